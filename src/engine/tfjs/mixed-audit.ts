/**
 * An audit whose target or reference (or both) is a TF.js model: each side loaded in its own
 * format (ONNX through ONNX Runtime, TF.js through the backend of backend.ts), the input size taken
 * from the models, the chained measurement of mixed-measure.ts, then the same finalization and
 * report as any audit. Features of the composed ONNX pipeline (LayerMem, fp16) are refused here.
 */
import * as ort from "onnxruntime-node";
import type { AuditConfig } from "../../core/audit-config.ts";
import { SslmemError } from "../../core/errors.ts";
import { resolvePolicy } from "../../core/policy.ts";
import type { ReportAuditInfo, ReportV1 } from "../../core/report.ts";
import type { PointSet } from "../../data/point-set.ts";
import { finalizeAudit } from "../audit.ts";
import { Encoder, inspectEncoder, resolvePreprocessing } from "../encoder.ts";
import type { ValueSummary } from "../onnx/inspect.ts";
import { chooseProviders, ortExecutionProviders, silentLogger, type EngineLogger, type ProviderPreference } from "../providers.ts";
import { createSession } from "../session.ts";
import { measureMixed, viewsMadeBy, type ViewEncoder } from "./mixed-measure.ts";
import { TfjsEncoder } from "./tfjs-encoder.ts";

/** An encoder in either format; a TF.js model by its path (a directory, model.json, or a .tar / .zip). */
export type EncoderSource = { format: "onnx"; bytes: Uint8Array } | { format: "tfjs"; path: string };

interface LoadedSide {
  view: ViewEncoder;
  info: ReportAuditInfo["target"];
  release(): Promise<void>;
  tfjsBackend?: string;
}

const tensorInfo = (v: ValueSummary) => ({ name: v.name, dtype: v.dtype ?? "unknown", shape: (v.dims ?? []).map((d) => d ?? "?") });

export async function runMixedAudit(
  sources: { target: EncoderSource; reference: EncoderSource },
  points: { candidates: PointSet; controls?: PointSet },
  config: AuditConfig,
  engine: { providers: ProviderPreference; threads?: number; logger?: EngineLogger; onProgress?: (done: number, total: number) => void },
  identity: { id: string; created: Date },
): Promise<ReportV1> {
  if (config.layers !== undefined) throw new SslmemError("invalid_config", "layers (LayerMem) need both encoders in ONNX: they run inside the composed ONNX graph");
  if (config.precision === "fp16") throw new SslmemError("invalid_config", "precision fp16 needs both encoders in ONNX");
  const logger = engine.logger ?? silentLogger;
  const providers = await chooseProviders(engine.providers, { logger });
  const loaded: LoadedSide[] = [];
  try {
    // The input size: from the first model that fixes it (TF.js inputs are always static).
    const tfjsSides = await Promise.all([sources.target, sources.reference].map(async (s) => (s.format === "tfjs" ? TfjsEncoder.fromPath(s.path) : null)));
    const fixed = tfjsSides.find((t) => t !== null)?.viewShape;
    const overrides = { ...config.preprocessing, ...(config.preprocessing.inputSize || !fixed ? {} : { inputSize: { height: fixed[0], width: fixed[1] } }) };
    let prep: ReturnType<typeof resolvePreprocessing> | undefined;
    for (const [i, source] of [sources.target, sources.reference].entries()) {
      const tfjs = tfjsSides[i];
      if (tfjs) {
        const [h, w] = tfjs.viewShape;
        loaded.push({
          view: tfjs,
          tfjsBackend: tfjs.backend,
          info: {
            digest: tfjs.digest,
            inputs: [{ name: "input", dtype: "float32", shape: ["?", h, w, 3] }],
            outputs: [{ name: "output", dtype: "float32", shape: ["?", "?"] }],
            representation: { output: "output", pooling: "flatten", dim: 1 },
          },
          release: async () => tfjs.release(),
        });
        continue;
      }
      if (source.format !== "onnx") throw new SslmemError("internal", "unreachable: a TF.js source without a TF.js encoder");
      const session = await createSession(source.bytes, { providers, intraOpThreads: engine.threads, logger });
      const info = inspectEncoder(session);
      const resolved = resolvePreprocessing(info, overrides);
      prep ??= resolved;
      const encoder = await Encoder.create(session, info, resolved, { outputName: config.outputName, pool: config.pool });
      const rank = encoder.output.dims?.length ?? 2;
      loaded.push({
        view: { layout: resolved.layout, embed: (v, n) => encoder.embed(v, n) },
        info: { digest: info.digest, inputs: info.inputs.map(tensorInfo), outputs: info.outputs.map(tensorInfo), representation: { output: encoder.output.name, pooling: rank <= 2 ? "none" : encoder.pool, dim: encoder.dim } },
        release: () => encoder.release(),
      });
    }
    const size = fixed ? { height: fixed[0], width: fixed[1] } : { height: prep!.height, width: prep!.width };
    if (fixed && prep && (prep.height !== fixed[0] || prep.width !== fixed[1])) {
      throw new SslmemError("encoders_incompatible", `the TF.js encoder takes ${fixed[0]}×${fixed[1]} images and the ONNX encoder ${prep.height}×${prep.width}`);
    }
    const preprocessing = {
      ...size,
      mean: config.preprocessing.mean ?? prep?.mean ?? [0, 0, 0],
      std: config.preprocessing.std ?? prep?.std ?? [1, 1, 1],
      range: config.preprocessing.range ?? prep?.range ?? [0, 1],
    } as const;
    const policy = resolvePolicy(config.augment);
    const [target, reference] = loaded;
    const options = { config, policy, preprocessing: { ...preprocessing, mean: [...preprocessing.mean] as [number, number, number], std: [...preprocessing.std] as [number, number, number], range: [...preprocessing.range] as [number, number] }, target: target.view, reference: reference.view, executionProviders: ortExecutionProviders(providers) };
    const total = points.candidates.size + (points.controls?.size ?? 0);
    engine.onProgress?.(0, total);
    const measured = await measureMixed(points.candidates, options);
    engine.onProgress?.(points.candidates.size, total);
    if (points.controls) measured.push(...(await measureMixed(points.controls, options, "control")));
    engine.onProgress?.(total, total);
    // The TF.js representation width is known only after a run.
    for (const side of loaded) if (side.tfjsBackend) side.info.representation.dim = (await side.view.embed(new Float32Array(size.height * size.width * 3), 1)).dim;
    const formats = [sources.target.format, sources.reference.format];
    const tfjsBackend = loaded.find((s) => s.tfjsBackend)?.tfjsBackend;
    const audit: ReportAuditInfo = {
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
    };
    return finalizeAudit(audit, measured, config).report;
  } finally {
    for (const side of loaded) await side.release();
  }
}
