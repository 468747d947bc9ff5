/**
 * `robust` flags (no controls): z = (s − median) / (1.4826 · MAD) over the candidates, flagged at
 * z ≥ robustZ (3.5, Iglewicz & Hoaglin's outlier cut). The candidates serve as their own null,
 * which is only right when few of them are memorized, so the flags carry no error guarantee and
 * the outcome says so.
 *
 * MAD = 0 (more than half the scores identical) would make every other score infinitely
 * extreme; the scale then falls back to 1.2533 · mean absolute deviation from the median (the
 * same normal-consistency idea: E|X − μ| = σ·√(2/π)). When that is 0 too, all scores are equal,
 * nothing stands out, and nothing is flagged.
 */
import { MAD_TO_SD, mad, median } from "./stats.ts";
import type { MethodOutcome } from "./types.ts";

const MEAN_AD_TO_SD = 1.2533;

export const UNCALIBRATED_ROBUST_WARNING =
  "flags are uncalibrated: method 'robust' marks candidates far above the candidates' own median, with no false-positive " +
  "or false-discovery guarantee; give controls (held-out points neither encoder saw) for calibrated flags";

/** The robust centre and scale of a sample (scale 0 only when all values are equal). */
export function robustCenterScale(scores: readonly number[]): { center: number; scale: number } {
  const center = median(scores);
  const m = mad(scores, center);
  if (m > 0) return { center, scale: MAD_TO_SD * m };
  let sum = 0;
  for (const s of scores) sum += Math.abs(s - center);
  return { center, scale: MEAN_AD_TO_SD * (sum / scores.length) };
}

export function robustFlags(candidateScores: readonly number[], robustZ: number): MethodOutcome {
  const warnings = [UNCALIBRATED_ROBUST_WARNING];
  if (candidateScores.length === 0) return { flagged: [], parameters: { robustZ }, calibrated: false, warnings };
  const { center, scale } = robustCenterScale(candidateScores);
  if (scale === 0) {
    warnings.push("all candidate scores are equal: there is no spread to measure outliers against, and nothing is flagged");
    return { flagged: candidateScores.map(() => false), parameters: { robustZ, median: center, scale }, calibrated: false, warnings };
  }
  return {
    flagged: candidateScores.map((s) => (s - center) / scale >= robustZ),
    parameters: { robustZ, median: center, scale },
    calibrated: false,
    threshold: center + robustZ * scale,
    warnings,
  };
}
