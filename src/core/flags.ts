/**
 * Batch-level finalization of an audit: scoreNormalized, p-values and flags for every point, by
 * the method the config names (DESIGN.md §1, "Flags"). Each method lives in calibration/; this
 * file only dispatches and assembles PointResults (candidates first, then controls).
 *
 * Controls are never `flagged` — a flag marks an audited training point. They carry, for fpr and
 * fdr, their leave-one-out p-value (scored as if a candidate, against the other controls), which
 * is what the calibration diagnostics are computed from.
 */
import { effectiveFlagMethod, type AuditConfig, type FlagMethod } from "./audit-config.ts";
import { fdrFlags } from "./calibration/fdr.ts";
import { fprFlags } from "./calibration/fpr.ts";
import { robustFlags } from "./calibration/robust.ts";
import { thresholdFlags } from "./calibration/threshold.ts";
import type { CalibrationDiagnostics, MethodOutcome, NullCovariate } from "./calibration/types.ts";
import { SslmemError } from "./errors.ts";
import type { PointMeasurement, PointResult } from "./scores.types.ts";
import { candidateScoreRange, normalizeScores } from "./sslmem.ts";

export interface FlagConfig {
  method: FlagMethod;
  /** α for fpr. */
  fpr: number;
  /** q for fdr. */
  fdr: number;
  /** t for threshold (on scoreNormalized). */
  threshold?: number;
  robustZ: number;
  /** Covariate of the fdr null (default alignReference). */
  covariate?: NullCovariate;
}

export interface FlagOutcome {
  /** Candidates (input order), then controls (input order). */
  results: PointResult[];
  method: FlagMethod;
  parameters: Record<string, number>;
  calibrated: boolean;
  /** A cut on the raw score scale, for plots; absent where none exists (fdr: the cut depends on the covariate). */
  threshold?: number;
  diagnostics?: CalibrationDiagnostics;
  warnings: string[];
}

/** The flag settings of an audit config, with the method resolved (fpr with controls, robust without). */
export function flagConfigFrom(config: AuditConfig, hasControls: boolean): FlagConfig {
  return {
    method: effectiveFlagMethod(config, hasControls),
    fpr: config.fpr,
    fdr: config.fdr,
    threshold: config.threshold,
    robustZ: config.robustZ,
  };
}

function checkRoles(points: readonly PointMeasurement[], role: PointMeasurement["role"]): void {
  for (const p of points) {
    if (p.role !== role) throw new SslmemError("internal", `flagPoints got a ${p.role} among the ${role}s`);
  }
}

export function flagPoints(candidates: readonly PointMeasurement[], controls: readonly PointMeasurement[], cfg: FlagConfig): FlagOutcome {
  checkRoles(candidates, "candidate");
  checkRoles(controls, "control");
  const normalized = normalizeScores([...candidates, ...controls]);
  const m = candidates.length;
  const candidateScores = candidates.map((p) => p.score);
  const controlScores = controls.map((p) => p.score);

  let outcome: MethodOutcome;
  switch (cfg.method) {
    case "fpr":
      outcome = fprFlags(candidateScores, controlScores, cfg.fpr);
      break;
    case "fdr":
      outcome = fdrFlags(candidates, controls, { q: cfg.fdr, covariate: cfg.covariate });
      break;
    case "robust":
      outcome = robustFlags(candidateScores, cfg.robustZ);
      break;
    case "threshold":
      outcome = thresholdFlags(
        normalized.slice(0, m).map((p) => p.scoreNormalized),
        cfg.threshold,
        candidateScoreRange(candidates),
      );
      break;
  }

  const results: PointResult[] = normalized.map((p, i) => {
    const isCandidate = i < m;
    const pValue = isCandidate ? outcome.candidatePValues?.[i] : outcome.controlPValues?.[i - m];
    return {
      ...p,
      ...(pValue !== undefined ? { pValue } : {}),
      flagged: isCandidate ? outcome.flagged[i] : false,
    };
  });
  return {
    results,
    method: cfg.method,
    parameters: outcome.parameters,
    calibrated: outcome.calibrated,
    ...(outcome.threshold !== undefined ? { threshold: outcome.threshold } : {}),
    ...(outcome.diagnostics ? { diagnostics: outcome.diagnostics } : {}),
    warnings: outcome.warnings,
  };
}
