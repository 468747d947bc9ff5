/**
 * `fpr` flags: a per-point false-positive rate α, calibrated on controls, split-conformal style.
 *
 * With n control scores sorted ascending S_(1) ≤ … ≤ S_(n), the cut is the order statistic
 * S_(k) with k = ⌈(1 − α)(n + 1)⌉, and a candidate is flagged iff its score is strictly above
 * it. If a non-memorized candidate's score is exchangeable with the controls, its rank among the
 * n + 1 values is uniform, so P(S > S_(k)) ≤ 1 − k/(n + 1) ≤ α — exactly, for any n and any
 * score distribution, ties included (they only make it more conservative).
 *
 * Equivalently: flagged ⟺ p ≤ α with the conformal p-value p = (1 + #{controls ≥ s}) / (n + 1).
 *
 * k ≤ n needs n ≥ 1/α − 1 controls (99 for α = 0.01). With fewer, α is out of reach: the cut
 * falls back to the largest control, whose false-positive rate is 1/(n + 1) > α; the outcome is
 * then marked uncalibrated and says so.
 */
import { SslmemError } from "../errors.ts";
import { countAtLeast, sortedCopy } from "./stats.ts";
import type { MethodOutcome } from "./types.ts";

/** k = ⌈(1 − α)(n + 1)⌉, capped at n; `reachable` is false when the cap applied. */
export function conformalRank(n: number, alpha: number): { rank: number; reachable: boolean } {
  // k = n + 1 − ⌊α(n + 1)⌋, computed from the small side with a tolerance so that α(n + 1)
  // landing on an integer (α = 0.01, n = 99) is not lost to rounding (0.99 · 100 = 99.000…01).
  const m = Math.floor(alpha * (n + 1) + 1e-9);
  const rank = n + 1 - m;
  return rank <= n ? { rank, reachable: true } : { rank: n, reachable: false };
}

/** (1 + #{controls ≥ s}) / (n + 1) for ascending control scores. */
export function conformalPValue(sortedControls: ArrayLike<number>, score: number): number {
  return (1 + countAtLeast(sortedControls, score)) / (sortedControls.length + 1);
}

export function fprFlags(candidateScores: readonly number[], controlScores: readonly number[], alpha: number): MethodOutcome {
  const n = controlScores.length;
  if (n === 0) {
    throw new SslmemError("controls_required", "flag method 'fpr' needs controls: held-out points from the same distribution that neither encoder was trained on");
  }
  const sorted = sortedCopy(controlScores);
  const { rank, reachable } = conformalRank(n, alpha);
  const cut = sorted[rank - 1];
  const warnings: string[] = [];
  if (!reachable) {
    const needed = Math.ceil(1 / alpha - 1);
    warnings.push(
      `fpr α = ${alpha} needs at least ${needed} controls, got ${n}: candidates are flagged above the largest control, ` +
        `a false-positive rate of up to ${(1 / (n + 1)).toPrecision(3)}. Add controls or raise α.`,
    );
  }
  return {
    flagged: candidateScores.map((s) => s > cut),
    candidatePValues: candidateScores.map((s) => conformalPValue(sorted, s)),
    // A control scored against the other n − 1: (1 + #{others ≥ s}) / n, and #{all ≥ s} counts itself.
    controlPValues: controlScores.map((s) => countAtLeast(sorted, s) / n),
    parameters: { alpha, controls: n, rank, achievedAlpha: (n + 1 - rank) / (n + 1) },
    calibrated: reachable,
    threshold: cut,
    warnings,
  };
}
