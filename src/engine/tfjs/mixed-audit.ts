/**
 * An audit whose target or reference (or both) is a TF.js model: each side loaded in its own
 * format (ONNX through ONNX Runtime, TF.js through the backend of backend.ts), the input size taken
 * from the models, the chained measurement of mixed-measure.ts, then the same finalization and
 * report as any audit. Features of the composed ONNX pipeline (LayerMem, fp16) are refused here.
 * prepareMixedAudit loads once and measures any range of points (the service stores batch by
 * batch); runMixedAudit is the whole audit in one call (the CLI).
 */
import * as ort from "onnxruntime-node";
import type { AuditConfig } from "../../core/audit-config.ts";
import { SslmemError } from "../../core/errors.ts";
import { resolvePolicy } from "../../core/policy.ts";
import type { ReportAuditInfo, ReportV1 } from "../../core/report.ts";
import type { PointRole } from "../../core/image.ts";
import type { PointSet } from "../../data/point-set.ts";
import { finalizeAudit } from "../audit.ts";
import { layersNeedOnnx } from "../layers.ts";
import { Encoder, inspectEncoder, resolveNormalization, resolvePreprocessing } from "../encoder.ts";
import type { ValueSummary } from "../onnx/inspect.ts";
import { chooseProviders, ortExecutionProviders, silentLogger, type EngineLogger, type ProviderPreference } from "../providers.ts";
import { createSession } from "../session.ts";
import { measureMixed, viewsMadeBy, type IndexedRow, type MixedMeasureHooks, type MixedMeasureOptions, type ViewEncoder } from "./mixed-measure.ts";
import { TfjsEncoder } from "./tfjs-encoder.ts";

/** An encoder in either format; a TF.js model by its path (a directory, model.json, or a .tar / .zip). */
export type EncoderSource = { format: "onnx"; bytes: Uint8Array } | { format: "tfjs"; path: string };

interface LoadedSide {
  view: ViewEncoder;
  info: ReportAuditInfo["target"];
  tfjsBackend?: string;
}

const tensorInfo = (v: ValueSummary) => ({ name: v.name, dtype: v.dtype ?? "unknown", shape: (v.dims ?? []).map((d) => d ?? "?") });

/** Both encoders loaded, ready to measure any points of the audit. */
export interface PreparedMixedAudit {
  /** The report's audit section (encoders, engine, preprocessing, config, sources). */
  describe(identity: { id: string; created: Date }): ReportAuditInfo;
  measure(set: PointSet, role: PointRole, hooks?: MixedMeasureHooks): Promise<IndexedRow[]>;
  /** The ONNX Runtime provider (for an all-TF.js audit, the one the augmentation graph would use). */
  readonly provider: string;
  release(): Promise<void>;
}

export type MixedEngineSettings = { providers: ProviderPreference; threads?: number; logger?: EngineLogger };

export async function prepareMixedAudit(
  sources: { target: EncoderSource; reference: EncoderSource },
  points: { candidates: PointSet; controls?: PointSet },
  config: AuditConfig,
  engine: MixedEngineSettings,
): Promise<PreparedMixedAudit> {
  if (config.layers !== undefined) throw layersNeedOnnx();
  if (config.precision === "fp16") throw new SslmemError("invalid_config", "precision fp16 needs both encoders in ONNX");
  const logger = engine.logger ?? silentLogger;
  const providers = await chooseProviders(engine.providers, { logger });
  const loaded: LoadedSide[] = [];
  const releasers: (() => Promise<void>)[] = [];
  const release = async () => {
    for (const r of releasers.splice(0)) await r();
  };
  try {
    // The input size: from the first model that fixes it (TF.js inputs are always static).
    const tfjsSides: (TfjsEncoder | null)[] = [];
    for (const s of [sources.target, sources.reference]) {
      const encoder = s.format === "tfjs" ? await TfjsEncoder.fromPath(s.path) : null;
      if (encoder) releasers.push(async () => encoder.release());
      tfjsSides.push(encoder);
    }
    const fixed = tfjsSides.find((t) => t !== null)?.viewShape;
    const overrides = { ...config.preprocessing, ...(config.preprocessing.inputSize || !fixed ? {} : { inputSize: { height: fixed[0], width: fixed[1] } }) };
    let prep: ReturnType<typeof resolvePreprocessing> | undefined;
    for (const [i, source] of [sources.target, sources.reference].entries()) {
      const tfjs = tfjsSides[i];
      if (tfjs) {
        loaded.push({ view: tfjs, tfjsBackend: tfjs.backend, info: tfjsInfo(tfjs) });
        continue;
      }
      if (source.format !== "onnx") throw new SslmemError("internal", "unreachable: a TF.js source without a TF.js encoder");
      const session = await createSession(source.bytes, { providers, intraOpThreads: engine.threads, logger });
      const info = inspectEncoder(session);
      const resolved = resolvePreprocessing(info, overrides);
      prep ??= resolved;
      const encoder = await Encoder.create(session, info, resolved, { outputName: config.outputName, pool: config.pool });
      releasers.push(() => encoder.release());
      const rank = encoder.output.dims?.length ?? 2;
      loaded.push({
        view: { layout: resolved.layout, embed: (v, n) => encoder.embed(v, n) },
        info: { digest: info.digest, inputs: info.inputs.map(tensorInfo), outputs: info.outputs.map(tensorInfo), representation: { output: encoder.output.name, pooling: rank <= 2 ? "none" : encoder.pool, dim: encoder.dim } },
      });
    }
    const size = fixed ? { height: fixed[0], width: fixed[1] } : { height: prep!.height, width: prep!.width };
    if (fixed && prep && (prep.height !== fixed[0] || prep.width !== fixed[1])) {
      throw new SslmemError("encoders_incompatible", `the TF.js encoder takes ${fixed[0]}×${fixed[1]} images and the ONNX encoder ${prep.height}×${prep.width}`);
    }
    // An ONNX side resolved the pair's normalization (request, else its metadata); without one,
    // the request must say it (a preset or mean/std): TF.js models declare none, and it is never guessed.
    const { mean, std, range } = prep ?? valuesOf(resolveNormalization(config.preprocessing));
    const policy = resolvePolicy(config.augment);
    const [target, reference] = loaded;
    const options: MixedMeasureOptions = {
      config,
      policy,
      preprocessing: { ...size, mean: [mean[0], mean[1], mean[2]], std: [std[0], std[1], std[2]], range: [range[0], range[1]] },
      target: target.view,
      reference: reference.view,
      executionProviders: ortExecutionProviders(providers),
    };
    // The TF.js representation width is known only after a run: one blank view.
    for (const side of loaded) if (side.tfjsBackend) side.info.representation.dim = (await side.view.embed(new Float32Array(size.height * size.width * 3), 1)).dim;
    const formats = [sources.target.format, sources.reference.format];
    const tfjsBackend = loaded.find((s) => s.tfjsBackend)?.tfjsBackend;
    return {
      provider: providers.provider,
      measure: (set, role, hooks) => measureMixed(set, options, role, hooks),
      describe: (identity) => ({
        id: identity.id,
        created: identity.created.toISOString(),
        target: target.info,
        reference: reference.info,
        provider: providers.provider,
        engine: {
          name: formats.every((f) => f === "tfjs") ? "tfjs" : "onnxruntime+tfjs",
          version: ort.env.versions.node ?? ort.env.versions.common,
          ...(tfjsBackend ? { tfjsBackend } : {}),
          views: { target: viewsMadeBy(target.view), reference: viewsMadeBy(reference.view) },
        },
        preprocessing: { height: size.height, width: size.width, layout: "NHWC", range: options.preprocessing.range, mean: options.preprocessing.mean, std: options.preprocessing.std },
        config: { ...config, augment: policy, pool: config.pool ?? "flatten" },
        candidatesSource: { kind: points.candidates.kind, count: points.candidates.size, skipped: points.candidates.skipped.length },
        ...(points.controls ? { controlsSource: { kind: points.controls.kind, count: points.controls.size, skipped: points.controls.skipped.length } } : {}),
      }),
      release,
    };
  } catch (e) {
    await release();
    throw e;
  }
}

function tfjsInfo(tfjs: TfjsEncoder): LoadedSide["info"] {
  const [h, w] = tfjs.viewShape;
  return {
    digest: tfjs.digest,
    inputs: [{ name: "input", dtype: "float32", shape: ["?", h, w, 3] }],
    outputs: [{ name: "output", dtype: "float32", shape: ["?", "?"] }],
    representation: { output: "output", pooling: "flatten", dim: 1 },
  };
}

/** The whole audit in one call: every point measured, then normalization, calibration, flags and the report. */
export async function runMixedAudit(
  sources: { target: EncoderSource; reference: EncoderSource },
  points: { candidates: PointSet; controls?: PointSet },
  config: AuditConfig,
  engine: MixedEngineSettings & { onProgress?: (done: number, total: number) => void },
  identity: { id: string; created: Date },
): Promise<ReportV1> {
  const prepared = await prepareMixedAudit(sources, points, config, engine);
  try {
    const total = points.candidates.size + (points.controls?.size ?? 0);
    engine.onProgress?.(0, total);
    const measured = await prepared.measure(points.candidates, "candidate");
    engine.onProgress?.(points.candidates.size, total);
    if (points.controls) measured.push(...(await prepared.measure(points.controls, "control", { offset: points.candidates.size })));
    engine.onProgress?.(total, total);
    return finalizeAudit(prepared.describe(identity), measured, config).report;
  } finally {
    await prepared.release();
  }
}

function valuesOf(n: ReturnType<typeof resolveNormalization>) {
  return { mean: n.mean.value, std: n.std.value, range: n.range.value };
}
