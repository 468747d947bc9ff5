/**
 * `threshold` flags: scoreNormalized ≥ t, a cut the user chose. No error guarantee (calibrated =
 * false). Because scoreNormalized = score / range, the same cut on the raw score scale is t·range,
 * which is what a plot of raw scores draws.
 */
import { SslmemError } from "../errors.ts";
import type { MethodOutcome } from "./types.ts";

export function thresholdFlags(candidateNormalized: readonly number[], t: number | undefined, candidateRange: number): MethodOutcome {
  if (t === undefined || !Number.isFinite(t)) {
    throw new SslmemError("invalid_config", "flag method 'threshold' needs a finite threshold on scoreNormalized");
  }
  const warnings: string[] = [];
  if (candidateRange === 0 && candidateNormalized.length > 0) {
    warnings.push("candidate scores have no range (fewer than two distinct scores): every scoreNormalized is 0");
  }
  return {
    flagged: candidateNormalized.map((v) => v >= t),
    parameters: { threshold: t },
    calibrated: false,
    ...(candidateRange > 0 ? { threshold: t * candidateRange } : {}),
    warnings,
  };
}
