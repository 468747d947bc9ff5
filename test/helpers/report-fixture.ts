/**
 * Realistic v1 reports for the renderer tests, built the way an audit builds them: synthetic
 * measurements (a heteroscedastic null with a memorized subset, core-null-sim.ts) go through the
 * real flagPoints and buildReport, so the summary, histogram, p-values and diagnostics are the
 * ones the core computes, not hand-written numbers.
 *
 * Variants:
 * - "fdr": controls, Benjamini–Hochberg flags, calibration diagnostics (LOO rate, QQ, GPD tail);
 *   no score threshold (the fdr cut depends on the covariate).
 * - "fpr": controls, a calibrated score threshold.
 * - "robust": no controls, uncalibrated flags with a warning, a score threshold.
 * Some flagged candidates get hostile ids (markup, quotes, control characters, formula prefixes),
 * because point ids are file names chosen by whoever uploaded the data.
 */
import { AuditConfigSchema, type AuditConfigInput } from "../../src/core/audit-config.ts";
import { flagPoints, type FlagConfig } from "../../src/core/flags.ts";
import { resolvePolicy } from "../../src/core/policy.ts";
import { buildReport, type ReportAuditInfo, type ReportV1 } from "../../src/core/report.ts";
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { simulateAudit } from "./core-null-sim.ts";

export type FixtureVariant = "fdr" | "fpr" | "robust";
type Method = FixtureVariant | "threshold";

/** Ids given to the first (memorized, so flagged in every variant) candidates. */
export const HOSTILE_IDS = [
  'a"<b>&c\u0001.png',
  "=HYPERLINK(\"x\")'.png",
  "+cmd.png",
  "-2+3.png",
  "@sum.png",
  "\tlead-tab.png",
  "dir with space/sous-dossier/ünïcode#1?.png",
  "<script>alert(1)</script>.jpg",
  "\u001b]0;pwned\u0007\u001b[31mred.png",
  'multi\nline,"quoted".png',
  "very/long/path/that/goes/on/and/on/and/on/through/many/levels/of/folders/before/it/finally/reaches/img_000123.png",
] as const;

export interface FixtureOptions {
  candidates?: number;
  controls?: number;
  /** Fraction of candidates that are memorized. */
  memorized?: number;
  hostileIds?: boolean;
  seed?: number;
}

const DIGEST_TARGET = "sha256:" + "3f".repeat(32);
const DIGEST_REFERENCE = "sha256:" + "a7".repeat(32);

function encoderInfo(digest: string) {
  return {
    digest,
    inputs: [{ name: "pixel_values", dtype: "float32", shape: ["batch", 3, 32, 32] }],
    outputs: [{ name: "embedding", dtype: "float32", shape: ["batch", 128] }],
    representation: { output: "embedding", pooling: "none" as const, dim: 128 },
  };
}

function auditInfo(variant: Method, candidates: number, controls: number, threshold?: number): ReportAuditInfo {
  const input: AuditConfigInput = { flag: variant, seed: 1234, views: 16, fdr: 0.05, fpr: 0.01, ...(threshold !== undefined ? { threshold } : {}) };
  const config = AuditConfigSchema.parse(input);
  return {
    id: `aud_fixture_${variant}`,
    created: "2025-03-14T09:26:53.589Z",
    target: encoderInfo(DIGEST_TARGET),
    reference: encoderInfo(DIGEST_REFERENCE),
    provider: "cpu",
    engine: { name: "onnxruntime", version: "1.30.0" },
    preprocessing: { height: 32, width: 32, layout: "NCHW", range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    config: { ...config, augment: resolvePolicy(config.augment), pool: config.pool ?? "flatten" },
    candidatesSource: { kind: "archive", count: candidates, skipped: 2 },
    ...(controls > 0 ? { controlsSource: { kind: "directory", count: controls, skipped: 0 } } : {}),
  };
}

function renameHostile(points: PointMeasurement[]): PointMeasurement[] {
  return points.map((p, i) => (i < HOSTILE_IDS.length ? { ...p, id: HOSTILE_IDS[i] } : { ...p, id: `train/img_${String(i).padStart(5, "0")}.png` }));
}

export function fixtureReport(variant: FixtureVariant, opts: FixtureOptions = {}): ReportV1 {
  const nCandidates = opts.candidates ?? 240;
  const nControls = variant === "robust" ? 0 : (opts.controls ?? 300);
  const sim = simulateAudit(opts.seed ?? 7, {
    candidates: nCandidates,
    controls: nControls,
    memorized: opts.memorized ?? 0.06,
    signal: 0.2,
  });
  const candidates = opts.hostileIds === false ? sim.candidates : renameHostile(sim.candidates);
  const controls = sim.controls.map((p, i) => ({ ...p, id: `holdout/ctl_${String(i).padStart(5, "0")}.png` }));
  return reportFromMeasurements(variant, candidates, controls);
}

/**
 * A report over given measurements (for edge cases: equal scores, a threshold far outside the
 * scores), through the same flagPoints and buildReport as an audit.
 */
export function reportFromMeasurements(
  method: Method,
  candidates: readonly PointMeasurement[],
  controls: readonly PointMeasurement[],
  threshold?: number,
): ReportV1 {
  const cfg: FlagConfig = { method, fpr: 0.01, fdr: 0.05, robustZ: 3.5, threshold };
  const outcome = flagPoints(candidates, controls, cfg);
  return buildReport({ audit: auditInfo(method, candidates.length, controls.length, threshold), results: outcome.results, flag: outcome });
}

/** A measurement with the given score (alignments consistent with it). */
export function measurement(id: string, role: PointMeasurement["role"], score: number): PointMeasurement {
  return { id, role, alignTarget: 0.5 - score, alignReference: 0.5, score, stdErr: 0.01, pairs: 16 };
}
