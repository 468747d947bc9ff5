/**
 * One audit, in three steps that both the CLI and the service's job executor use:
 *
 *   prepareAudit   — providers, both encoders (checked and compatible), the augmentation graph;
 *                    everything that can refuse the inputs happens here, before any view;
 *   measurePoints  — (measure.ts) the batch pipeline over any range of points;
 *   finalizeAudit  — normalization, calibration and flags over the whole set, and the report.
 */
import * as ort from "onnxruntime-node";
import type { AuditConfig } from "../core/audit-config.ts";
import { flagConfigFrom, flagPoints, type FlagOutcome } from "../core/flags.ts";
import { resolvePolicy, type AugmentationPolicy } from "../core/policy.ts";
import { buildReport, MAX_NAMED_SKIPPED, type ReportAuditInfo, type ReportHealth, type ReportV1 } from "../core/report.ts";
import { compareAlignments, healthWarnings, type EncoderHealthSample } from "../core/health.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import type { LayerDescription } from "../core/layermem.ts";
import type { PointSet, SkippedEntry } from "../data/point-set.ts";
import { augmentGraphOptions } from "./augmenter.ts";
import { createBatchPipeline, type PipelineDescription } from "./batch-pipeline.ts";
import type { Encoder } from "./encoder.ts";
import { loadEncoderPair, type EncoderPair } from "./load-encoders.ts";
import { checkViewBudget, PointCatalog, pointsPerChunk, samplingSettings, viewValuesPerPoint, type MeasureContext } from "./measure.ts";
import { StagingThread } from "./staging.ts";
import type { AugmentSite } from "./batch-packing.ts";
import { DEFAULT_MEMORY_BUDGET, MemoryPlanner, type BatchPlan } from "./memory.ts";
import { chooseProviders, ortExecutionProviders, silentLogger, type EngineLogger, type ProviderChoice, type ProviderPreference } from "./providers.ts";
import type { SessionCache } from "./session.ts";
import { resolveLayers, type ResolvedLayer } from "./layers.ts";
import type { ValueSummary } from "./onnx/inspect.ts";

export interface EngineSettings {
  /** "auto" (cuda when it loads, else cpu) or an explicit list. */
  providers: ProviderPreference;
  /** GPU ordinal for cuda / tensorrt / dml (ORT's device_id); default: the provider's (0). */
  deviceId?: number;
  /** ORT intra-op threads per session; default: the number of cores. */
  threads?: number;
  logger?: EngineLogger;
  /** Reuse encoder sessions across audits (the service keeps one per process). */
  cache?: SessionCache;
  /**
   * Bytes the audit may keep resident; batches are sized to it from a measured probe (memory.ts).
   * Default DEFAULT_MEMORY_BUDGET; null: no budget, the configured batch size.
   */
  memoryBudget?: number | null;
  /** Called once the batch size is planned from the memory probe (logs, benchmarks). */
  onBatchPlan?: (plan: BatchPlan) => void;
  /** "auto" (default): one composed graph per batch when the encoders compose; "chained": never compose. */
  pipeline?: "auto" | "chained";
  /**
   * Where a batch is sampled and packed (staging.ts): "thread" while the batch before it runs,
   * "inline" on the thread that runs it. Default: inline on the CPU provider, a thread on any other.
   */
  staging?: "inline" | "thread";
  /**
   * Where the composed pipeline makes the views (batch-packing.ts): "host" on the CPU
   * (host-augment.ts), "graph" in the composed graph. Default: batch-pipeline.ts,
   * defaultAugmentSite (the host for the CPU provider and a GPU provider's small views).
   */
  augmentation?: AugmentSite;
}

export interface AuditInputs {
  target: Uint8Array;
  reference: Uint8Array;
  candidates: PointSet;
  controls?: PointSet;
}

export interface PreparedAudit {
  context: MeasureContext;
  providers: ProviderChoice;
  encoders: EncoderPair;
  policy: AugmentationPolicy;
  /** How batches run: one composed graph, or chained sessions and why. */
  pipeline: PipelineDescription;
  release(): Promise<void>;
}

export async function prepareAudit(inputs: AuditInputs, config: AuditConfig, engine: EngineSettings): Promise<PreparedAudit> {
  const logger = engine.logger ?? silentLogger;
  const providers = await chooseProviders(engine.providers, { logger, deviceId: engine.deviceId });
  const encoders = await loadEncoderPair(inputs.target, inputs.reference, {
    providers,
    intraOpThreads: engine.threads,
    logger,
    cache: engine.cache,
    preprocessing: config.preprocessing,
    outputName: config.outputName,
    pool: config.pool,
  });
  const policy = resolvePolicy(config.augment);
  if (config.precision === "fp16" && providers.provider === "cpu") {
    logger.warn({ precision: "fp16", provider: "cpu" }, "fp16 on the CPU provider runs through float32 kernels: scores at fp16 precision, no speed-up");
  }
  const prep = encoders.preprocessing;
  const augment = augmentGraphOptions({
    policy,
    out: { height: prep.height, width: prep.width },
    layout: prep.layout,
    mean: prep.mean,
    std: prep.std,
    range: prep.range,
  });
  const releaseEncoders = async () => {
    if (!engine.cache) await Promise.all([encoders.target.release(), encoders.reference.release()]);
  };
  const budget = engine.memoryBudget === undefined ? DEFAULT_MEMORY_BUDGET : engine.memoryBudget;
  const planner =
    budget === null
      ? undefined
      : new MemoryPlanner(budget, pointsPerChunk({ config, target: encoders.target }), (plan) => {
          const fields = { budgetMiB: mib(plan.budget), perPointMiB: plan.perPoint && mib(plan.perPoint), firstPointMiB: plan.firstPoint && mib(plan.firstPoint), baseMiB: plan.base && mib(plan.base), heldMiB: plan.held && mib(plan.held), batchSize: plan.batchSize };
          if (plan.note) logger.warn({ ...fields, note: plan.note }, "batch size from the memory budget");
          else logger.info(fields, "batch size from the memory budget");
          engine.onBatchPlan?.(plan);
        });
  let pipeline;
  let layers: ResolvedLayer[] | undefined;
  try {
    if (config.layers !== undefined) {
      const sides = { target: { bytes: inputs.target, encoder: encoders.target }, reference: { bytes: inputs.reference, encoder: encoders.reference } };
      layers = await resolveLayers(config.layers, sides.target, sides.reference, { pool: config.pool ?? "flatten", executionProviders: ortExecutionProviders(providers), threads: engine.threads });
      logger.info({ layers: layers.map((l) => l.name) }, "LayerMem layers");
    }
    pipeline = await createBatchPipeline({
      augment,
      target: { bytes: inputs.target, encoder: encoders.target },
      reference: { bytes: inputs.reference, encoder: encoders.reference },
      config,
      providers,
      threads: engine.threads,
      logger,
      forceChained: engine.pipeline === "chained" ? "chained pipeline requested" : undefined,
      ...(engine.augmentation ? { augmentation: engine.augmentation } : {}),
      cache: engine.cache,
      memoryProbe: planner?.probing ?? false,
      ...(layers ? { layers: { target: layers.map((l) => l.targetTap), reference: layers.map((l) => l.referenceTap) } } : {}),
    });
  } catch (e) {
    await releaseEncoders();
    throw e;
  }
  // The views made on the host are held for the batch running and the next (measure.ts).
  if (planner && pipeline.description.augmentation === "host") planner.heldPerPoint = 2 * viewValuesPerPoint({ config, target: encoders.target }) * Float32Array.BYTES_PER_ELEMENT;
  const staged = engine.staging ?? (providers.provider === "cpu" ? "inline" : "thread");
  const sampling = samplingSettings({ config, policy, target: encoders.target });
  const staging = staged === "thread" && pipeline.packing ? new StagingThread({ sampling, packing: pipeline.packing }) : undefined;
  const context: MeasureContext = {
    config,
    policy,
    target: encoders.target,
    reference: encoders.reference,
    pipeline,
    catalog: new PointCatalog(inputs.candidates, inputs.controls),
    ...(layers ? { layers } : {}),
    ...(planner ? { memory: planner } : {}),
    ...(staging ? { staging } : {}),
  };
  const releaseAll = async () => {
    await staging?.close();
    await pipeline.release();
    await releaseEncoders();
  };
  try {
    checkViewBudget(context);
  } catch (e) {
    await releaseAll();
    throw e;
  }
  return {
    context,
    providers,
    encoders,
    policy,
    pipeline: { ...pipeline.description, staging: staging ? "thread" : "inline" },
    release: releaseAll,
  };
}

/** What the report says about each measured layer (LayerMem), or undefined without layers. */
export function describeLayers(prepared: PreparedAudit): LayerDescription[] | undefined {
  return prepared.context.layers?.map((l) => ({
    name: l.name,
    target: l.target,
    reference: l.reference,
    final: l.final,
    shape: l.targetTap.dims.slice(1),
    dim: l.targetTap.dim,
  }));
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

function encoderReportInfo(encoder: Encoder): ReportAuditInfo["target"] {
  // Unknown dimensions (null) are reported by a placeholder name, as ONNX tools print them.
  const tensor = (v: ValueSummary) => ({
    name: v.name,
    dtype: v.dtype ?? "unknown",
    shape: (v.dims ?? []).map((d) => d ?? "?"),
  });
  const rank = encoder.output.dims?.length ?? 2;
  return {
    digest: encoder.info.digest,
    inputs: encoder.info.inputs.map(tensor),
    outputs: encoder.info.outputs.map(tensor),
    representation: { output: encoder.output.name, pooling: rank <= 2 ? "none" : encoder.pool, dim: encoder.dim },
  };
}

export interface AuditIdentity {
  id: string;
  created: Date;
}

/** Points that failed to load during the run and were left out (`--on-invalid skip`). */
export interface InvalidPoints {
  candidates: readonly SkippedEntry[];
  controls: readonly SkippedEntry[];
}

function pointSource(set: PointSet, invalid: readonly SkippedEntry[]): ReportAuditInfo["candidatesSource"] {
  const skipped = [...set.skipped, ...invalid];
  return {
    kind: set.kind,
    count: set.size - invalid.length,
    skipped: skipped.length,
    ...(skipped.length > 0 ? { skippedFiles: skipped.slice(0, MAX_NAMED_SKIPPED).map(({ id, reason }) => ({ id, reason })) } : {}),
  };
}

/** The `audit` section of the report: what was run, on what, with which settings. */
export function describeAudit(
  prepared: PreparedAudit,
  identity: AuditIdentity,
  config: AuditConfig,
  invalid: InvalidPoints = { candidates: [], controls: [] },
): ReportAuditInfo {
  const { encoders, context } = prepared;
  const { candidates, controls } = context.catalog;
  const prep = encoders.preprocessing;
  return {
    id: identity.id,
    created: identity.created.toISOString(),
    target: encoderReportInfo(encoders.target),
    reference: encoderReportInfo(encoders.reference),
    provider: prepared.providers.provider,
    engine: { name: "onnxruntime", version: ort.env.versions.node ?? ort.env.versions.common, pipeline: prepared.pipeline },
    preprocessing: { height: prep.height, width: prep.width, layout: prep.layout, range: prep.range, mean: prep.mean, std: prep.std },
    config: { ...config, augment: prepared.policy, pool: encoders.target.pool },
    candidatesSource: pointSource(candidates, invalid.candidates),
    ...(controls ? { controlsSource: pointSource(controls, invalid.controls) } : {}),
  };
}

/** Normalization, calibration and flags over all measured points, and the v1 report. */
export function finalizeAudit(
  audit: ReportAuditInfo,
  measurements: readonly PointMeasurement[],
  config: AuditConfig,
  extras: { layers?: readonly LayerDescription[]; health?: EncoderHealthSample } = {},
): { report: ReportV1; flags: FlagOutcome } {
  const candidates = measurements.filter((m) => m.role === "candidate");
  const controls = measurements.filter((m) => m.role === "control");
  const flags = flagPoints(candidates, controls, flagConfigFrom(config, controls.length > 0));
  const { results, ...flagSummary } = flags;
  const health = extras.health ? healthReport(extras.health, controls) : undefined;
  return { report: buildReport({ audit, results, flag: flagSummary, health, ...(extras.layers ? { layers: extras.layers } : {}) }), flags };
}

/** The diagnostics of the sample plus the controls' alignments under both encoders, with warnings. */
function healthReport(sample: EncoderHealthSample, controls: readonly PointMeasurement[]): ReportHealth {
  const alignment = compareAlignments(
    controls.map((c) => c.alignTarget),
    controls.map((c) => c.alignReference),
  );
  return {
    sample: sample.sample,
    target: sample.target,
    reference: sample.reference,
    ...(alignment && Number.isFinite(alignment.ratio) ? { controlsAlignment: alignment } : {}),
    warnings: healthWarnings(sample.target, sample.reference, alignment),
  };
}
