/**
 * A UnitMem run (core/unitmem.ts) on one encoder: the same seeded views and the same device
 * pipeline as an audit. Each batch goes through one composed graph (unit-graph.ts: augmentation,
 * encoder, per-point unit means) and only the per-point means [points × units] per layer come
 * back; they are all the run keeps (memory: points × units, never views × activations). Encoders
 * that do not compose run on the host path (unit-reference.ts), which is also the tests' reference.
 */
import * as ort from "onnxruntime-node";
import { availableParallelism } from "node:os";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import { resolvePolicy } from "../core/policy.ts";
import { PointUnitMeans, unitMemScores } from "../core/unitmem.ts";
import { buildUnitMemReport, type UnitLayerResult, type UnitMemConfig, type UnitMemReport } from "../core/unitmem-report.ts";
import { sampleViewsForPoint, type ViewParams } from "../core/view-params.ts";
import type { PointSet } from "../data/point-set.ts";
import { packAugmentInputs } from "./augment-graph.ts";
import { Augmenter, augmentGraphOptions, toFeeds } from "./augmenter.ts";
import { Encoder, inspectEncoder, resolvePreprocessing } from "./encoder.ts";
import { openLayerSession, probeLayerTaps, selectEncoderLayers, type LayerTap } from "./layers.ts";
import { MAX_VIEW_VALUES } from "./measure.ts";
import { chooseProviders, intraOpWait, ortExecutionProviders, sanitizeOrtMessage, silentLogger, type EngineLogger, type ProviderPreference } from "./providers.ts";
import { createSession } from "./session.ts";
import { buildUnitGraph, unitMeansOutput } from "./unit-graph.ts";
import { hostUnitMeans } from "./unit-reference.ts";

export interface UnitEngineSettings {
  providers: ProviderPreference;
  threads?: number;
  logger?: EngineLogger;
  /** "auto": the composed graph when the encoder composes; "host": always the host path. */
  pipeline?: "auto" | "host";
  /** Awaited after each batch (the service stores progress there before the next batch starts). */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** The K augmented views of a point: views 1…K of the seeded sequence (view 0 is the original). */
export function unitViews(config: UnitMemConfig, policy: ReturnType<typeof resolvePolicy>, id: string, src: { height: number; width: number }, out: { height: number; width: number }): ViewParams[] {
  return sampleViewsForPoint(policy, "original", config.seed, id, config.views, src, out).slice(1);
}

interface UnitBatchRunner {
  readonly mode: "fused" | "host";
  /** Per layer, [points, units] means of the batch. */
  run(batch: readonly { image: RgbImage; views: readonly ViewParams[] }[]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

export interface UnitMemResult {
  report: UnitMemReport;
  /** Per layer, the per-point means (for tests and the reference comparison). */
  means: Float64Array[];
  /** Every unit's score, per layer in report order (the service stores them as rows). */
  layers: UnitLayerResult[];
}

/** UnitMem of a TF.js encoder: refused (the unit values are extra outputs of the ONNX graph). */
export function unitMemNeedsOnnx(): SslmemError {
  return new SslmemError("model_unsupported", "encoder: UnitMem audits take an ONNX encoder (its layer values are extra outputs of the ONNX graph); export the TF.js model to ONNX");
}

export async function runUnitMem(
  bytes: Uint8Array,
  candidates: PointSet,
  config: UnitMemConfig,
  engine: UnitEngineSettings,
  identity: { id: string; created: Date },
): Promise<UnitMemResult> {
  if (candidates.size < 2) throw new SslmemError("candidates_empty", "UnitMem compares each unit's response to one point with the others: it needs at least two points");
  const logger = engine.logger ?? silentLogger;
  const threads = engine.threads ?? availableParallelism();
  const providers = await chooseProviders(engine.providers, { logger });
  const session = await createSession(bytes, { providers, intraOpThreads: threads, logger });
  const releases: (() => Promise<void>)[] = [() => session.release()];
  try {
    const info = inspectEncoder(session);
    const prep = resolvePreprocessing(info, config.preprocessing);
    const encoder = await Encoder.create(session, info, prep, { outputName: config.outputName, pool: "mean" });
    const names = selectEncoderLayers(bytes, config.layers, encoder.output.name);
    const layerSession = await openLayerSession(bytes, names, ortExecutionProviders(providers), threads);
    releases.push(() => layerSession.release());
    const taps = await probeLayerTaps(layerSession, encoder, names, "mean");
    const policy = resolvePolicy(config.augment);
    const out = { height: prep.height, width: prep.width };
    const augment = augmentGraphOptions({ policy, out, layout: prep.layout, mean: prep.mean, std: prep.std, range: prep.range });

    let runner: UnitBatchRunner | undefined;
    if (engine.pipeline !== "host") {
      const graph = buildUnitGraph({ augment, bytes, encoder, taps, viewsPerPoint: config.views });
      if (graph.ok) {
        try {
          const fused = await ort.InferenceSession.create(graph.model, {
            executionProviders: ortExecutionProviders(providers),
            graphOptimizationLevel: "all",
            intraOpNumThreads: threads,
            extra: { session: { intra_op: intraOpWait("brief-spin") } },
          });
          releases.push(() => fused.release());
          runner = fusedRunner(fused, augment, taps);
        } catch (e) {
          logger.warn({ reason: sanitizeOrtMessage(e instanceof Error ? e.message : String(e)) }, "UnitMem graph not composed; running the host path");
        }
      } else {
        logger.warn({ reason: graph.reason }, "UnitMem graph not composed; running the host path");
      }
    }
    if (runner === undefined) {
      const augmenter = Augmenter.fromGraph(augment, ortExecutionProviders(providers), { intraOpNumThreads: threads });
      releases.push(() => augmenter.release());
      runner = {
        mode: "host",
        run: async (batch) => hostUnitMeans(layerSession, encoder, taps, await augmenter.runBatch(batch), batch.length, config.views),
        release: async () => {},
      };
    }

    const means = taps.map((t) => new PointUnitMeans(candidates.size, t.dim));
    const perBatch = Math.max(1, Math.min(config.batchSize, Math.floor(MAX_VIEW_VALUES / (config.views * encoder.viewSize))));
    await engine.onProgress?.(0, candidates.size);
    for (let start = 0; start < candidates.size; start += perBatch) {
      if (engine.signal?.aborted) throw new SslmemError("cancelled", "the UnitMem run was cancelled");
      const indices = Array.from({ length: Math.min(perBatch, candidates.size - start) }, (_, i) => start + i);
      const batch = await Promise.all(
        indices.map(async (k) => {
          const image = await candidates.load(k);
          return { image, views: unitViews(config, policy, candidates.ids[k], { height: image.height, width: image.width }, out) };
        }),
      );
      const layerMeans = await runner.run(batch);
      layerMeans.forEach((m, l) => indices.forEach((k, p) => means[l].set(k, m.subarray(p * taps[l].dim, (p + 1) * taps[l].dim))));
      await engine.onProgress?.(start + indices.length, candidates.size);
    }

    const layers = taps.map((tap, l) => ({ name: tap.value, shape: tap.dims.slice(1), scores: unitMemScores(means[l].means, candidates.size, tap.dim, config.baseline) }));
    const report = buildUnitMemReport(
      {
        id: identity.id,
        created: identity.created.toISOString(),
        encoder: { digest: info.digest, output: encoder.output.name },
        provider: providers.provider,
        pipeline: runner.mode,
        config: { ...config, augment: policy },
        points: candidates.size,
      },
      layers,
      candidates.ids,
    );
    return { report, means: means.map((m) => m.means), layers };
  } finally {
    for (const release of releases.reverse()) await release();
  }
}

function fusedRunner(session: ort.InferenceSession, augment: ReturnType<typeof augmentGraphOptions>, taps: readonly LayerTap[]): UnitBatchRunner {
  const fetches = taps.map((_, i) => unitMeansOutput(i));
  return {
    mode: "fused",
    async run(batch) {
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = await session.run(toFeeds(packAugmentInputs(augment, batch)), fetches);
      } catch (e) {
        throw new SslmemError("engine_failure", `ONNX Runtime failed while running the UnitMem batch: ${sanitizeOrtMessage(e instanceof Error ? e.message : String(e))}`, undefined, { cause: e });
      }
      return fetches.map((name) => {
        const data = result[name].data as Float32Array;
        for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) throw new SslmemError("model_output_invalid", `layer ${taps[fetches.indexOf(name)].value} produced a non-finite activation`);
        return data;
      });
    },
    release: () => session.release(),
  };
}
