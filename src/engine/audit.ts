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
import type { PointSet, SkippedEntry } from "../data/point-set.ts";
import { Augmenter } from "./augmenter.ts";
import type { Encoder } from "./encoder.ts";
import { loadEncoderPair, type EncoderPair } from "./load-encoders.ts";
import { checkViewBudget, PointCatalog, type MeasureContext } from "./measure.ts";
import { chooseProviders, silentLogger, type EngineLogger, type ProviderChoice, type ProviderPreference } from "./providers.ts";
import type { SessionCache } from "./session.ts";
import type { ValueSummary } from "./onnx/inspect.ts";

export interface EngineSettings {
  /** "auto" (cuda when it loads, else cpu) or an explicit list. */
  providers: ProviderPreference;
  /** ORT intra-op threads per session; default: the number of cores. */
  threads?: number;
  logger?: EngineLogger;
  /** Reuse encoder sessions across audits (the service keeps one per process). */
  cache?: SessionCache;
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
  release(): Promise<void>;
}

export async function prepareAudit(inputs: AuditInputs, config: AuditConfig, engine: EngineSettings): Promise<PreparedAudit> {
  const logger = engine.logger ?? silentLogger;
  const providers = await chooseProviders(engine.providers, { logger });
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
  const prep = encoders.preprocessing;
  const augmenter = await Augmenter.create({
    policy,
    out: { height: prep.height, width: prep.width },
    layout: prep.layout,
    mean: prep.mean,
    std: prep.std,
    range: prep.range,
    executionProviders: [...providers.executionProviders],
    sessionOptions: engine.threads ? { intraOpNumThreads: engine.threads } : undefined,
  });
  const context: MeasureContext = {
    config,
    policy,
    target: encoders.target,
    reference: encoders.reference,
    augmenter,
    catalog: new PointCatalog(inputs.candidates, inputs.controls),
  };
  try {
    checkViewBudget(context);
  } catch (e) {
    await augmenter.release();
    if (!engine.cache) await Promise.all([encoders.target.release(), encoders.reference.release()]);
    throw e;
  }
  return {
    context,
    providers,
    encoders,
    policy,
    async release() {
      await augmenter.release();
      if (!engine.cache) {
        await encoders.target.release();
        await encoders.reference.release();
      }
    },
  };
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
    engine: { name: "onnxruntime", version: ort.env.versions.node ?? ort.env.versions.common },
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
  healthSample?: EncoderHealthSample,
): { report: ReportV1; flags: FlagOutcome } {
  const candidates = measurements.filter((m) => m.role === "candidate");
  const controls = measurements.filter((m) => m.role === "control");
  const flags = flagPoints(candidates, controls, flagConfigFrom(config, controls.length > 0));
  const { results, ...flagSummary } = flags;
  const health = healthSample ? healthReport(healthSample, controls) : undefined;
  return { report: buildReport({ audit, results, flag: flagSummary, health }), flags };
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
