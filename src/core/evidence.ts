/**
 * The set-level verdict: is there evidence that the target encoder memorized the candidates beyond
 * chance? Counting flags is a weak test (at α = 0.01 a clean set has α·n flags by construction, and
 * a few memorized points barely move the count); a rank test of every candidate score against the
 * control scores uses all of them. Candidates that f never saw are exchangeable with the controls,
 * so under that null the Mann–Whitney statistic has its textbook distribution.
 *
 * Pure functions, no I/O; hand-computed cases in test/core/evidence.test.ts.
 */
import { betaRegularized, logGamma, normalQuantile, normalSf } from "./calibration/distributions.ts";

export interface RankTest {
  /** Mann–Whitney U of the candidates: #{(c, k): c > k} + ½ #{c = k} over candidate c, control k. */
  u: number;
  /** U / (n_candidates · n_controls): P(a candidate scores above a control), ties counted ½. */
  auc: number;
  /** Two-sided (1 − confidence) interval of the AUC (DeLong standard error, Wald, clipped to [0,1]). */
  aucLow: number;
  aucHigh: number;
  confidence: number;
  /** One-sided p-value of H0 "candidates score like controls" against "candidates score higher". */
  pValue: number;
  /** exact: the permutation distribution of U (small samples without ties); normal: the tie-corrected normal approximation with continuity correction. */
  pValueMethod: "exact" | "normal";
  /**
   * max(0, 2·AUC − 1): an estimate of the fraction of candidates that score above the control
   * distribution. If a fraction π of candidates is memorized and the rest scores like controls,
   * AUC = (1 − π)/2 + π·P(memorized > control) ≤ (1 + π)/2, so 2·AUC − 1 ≤ π: a lower bound,
   * exact when every memorized candidate outscores every control.
   */
  excessFraction: number;
  /** The same bound at the AUC interval's lower end. */
  excessFractionLow: number;
}

/** Midranks (1-based) of `values` in ascending order; ties share the mean of their ranks. */
export function midranks(values: readonly number[]): { ranks: Float64Array; tieTerm: number } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  let tieTerm = 0; // Σ (t³ − t) over tie groups
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

/** Exact P(U ≥ u) under H0 for n1, n2 without ties: U counts (x, y) pairs with x > y. */
export function exactUpperTail(u: number, n1: number, n2: number): number {
  // p[j][s]: P(U = s) for samples of sizes (i, j); recurrence on whether the largest value is an x
  // (prob i/(i+j), it beats all j y's) or a y (prob j/(i+j), it beats none).
  let prev: Float64Array[] = Array.from({ length: n2 + 1 }, () => Float64Array.of(1)); // i = 0: U = 0
  for (let i = 1; i <= n1; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)]; // j = 0: U = 0
    for (let j = 1; j <= n2; j++) {
      const dist = new Float64Array(i * j + 1);
      const a = prev[j]; // (i − 1, j), shifted by j
      const b = cur[j - 1]; // (i, j − 1)
      const px = i / (i + j);
      for (let s = 0; s < a.length; s++) dist[s + j] += px * a[s];
      for (let s = 0; s < b.length; s++) dist[s] += (1 - px) * b[s];
      cur.push(dist);
    }
    prev = cur;
  }
  const dist = prev[n2];
  let tail = 0;
  for (let s = Math.ceil(u - 1e-9); s < dist.length; s++) tail += dist[s];
  return Math.min(1, tail);
}

/** Above this many pairs the exact distribution costs more than it is worth; the normal approximation is excellent there. */
const EXACT_MAX_PAIRS = 2500;

/** One-sided Mann–Whitney test of candidates > controls, with the AUC, its CI and the excess fraction. */
export function rankTest(candidates: readonly number[], controls: readonly number[], confidence = 0.95): RankTest {
  const n1 = candidates.length;
  const n2 = controls.length;
  if (n1 === 0 || n2 === 0) throw new RangeError("rankTest needs at least one candidate and one control");
  const all = [...candidates, ...controls];
  const { ranks, tieTerm } = midranks(all);
  let rankSum = 0;
  for (let i = 0; i < n1; i++) rankSum += ranks[i];
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const auc = u / (n1 * n2);

  let pValue: number;
  let pValueMethod: RankTest["pValueMethod"];
  if (tieTerm === 0 && n1 * n2 <= EXACT_MAX_PAIRS) {
    pValue = exactUpperTail(u, n1, n2);
    pValueMethod = "exact";
  } else {
    const n = n1 + n2;
    const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
    pValue = variance > 0 ? normalSf((u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance)) : 1;
    pValueMethod = "normal";
  }

  const se = delongStandardError(candidates, controls, ranks);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const aucLow = Math.max(0, auc - z * se);
  const aucHigh = Math.min(1, auc + z * se);
  return {
    u,
    auc,
    aucLow,
    aucHigh,
    confidence,
    pValue: Math.min(1, Math.max(0, pValue)),
    pValueMethod,
    excessFraction: Math.max(0, 2 * auc - 1),
    excessFractionLow: Math.max(0, 2 * aucLow - 1),
  };
}

/**
 * DeLong's standard error of the AUC from placement values: V10_i = P̂(control < candidate i),
 * V01_j = P̂(candidate > control j); Var = s²(V10)/n1 + s²(V01)/n2. Placements come from midranks:
 * V10_i = (R_i − r_i)/n2 with R_i the rank among all and r_i among the candidates.
 */
function delongStandardError(candidates: readonly number[], controls: readonly number[], ranksAll: Float64Array): number {
  const n1 = candidates.length;
  const n2 = controls.length;
  if (n1 < 2 || n2 < 2) return 0.5; // no variance estimate: the widest honest interval
  const within1 = midranks(candidates).ranks;
  const within2 = midranks(controls).ranks;
  const v10 = Array.from({ length: n1 }, (_, i) => (ranksAll[i] - within1[i]) / n2);
  const v01 = Array.from({ length: n2 }, (_, j) => 1 - (ranksAll[n1 + j] - within2[j]) / n1);
  return Math.sqrt(sampleVariance(v10) / n1 + sampleVariance(v01) / n2);
}

function sampleVariance(xs: readonly number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

export interface FlagCountTest {
  /** Flags a set of clean candidates would get on average: m·α_achieved. */
  expected: number;
  /** P(at least this many flags | no candidate memorized). */
  pValue: number;
  /**
   * beta-binomial: every candidate is compared with the same control cut S_(k), so the clean
   * candidates' flags are not independent: given the cut, each is flagged with probability
   * U ~ Beta(n + 1 − k, k) (the null mass above the k-th of n order statistics). The exact count
   * distribution is Binomial(m, U) mixed over U; with many controls it is the Binomial(m, α).
   */
  distribution: "beta-binomial";
}

/** P(X ≥ x) for X ~ BetaBinomial(m, a, b). */
export function betaBinomialSf(x: number, m: number, a: number, b: number): number {
  if (x <= 0) return 1;
  if (x > m) return 0;
  const logBeta = (p: number, q: number) => logGamma(p) + logGamma(q) - logGamma(p + q);
  const logChoose = (k: number) => logGamma(m + 1) - logGamma(k + 1) - logGamma(m - k + 1);
  const base = logBeta(a, b);
  // Sum the shorter side for accuracy.
  let tail = 0;
  if (x > m / 2) {
    for (let k = x; k <= m; k++) tail += Math.exp(logChoose(k) + logBeta(k + a, m - k + b) - base);
    return Math.min(1, tail);
  }
  for (let k = 0; k < x; k++) tail += Math.exp(logChoose(k) + logBeta(k + a, m - k + b) - base);
  return Math.min(1, Math.max(0, 1 - tail));
}

/**
 * The exact test of an fpr flag count: `flagged` of `m` candidates against n controls with the cut
 * at the k-th order statistic (rank k of n, as in calibration/fpr.ts).
 */
export function fprFlagCountTest(flagged: number, m: number, controls: number, rank: number): FlagCountTest {
  const a = controls + 1 - rank; // null mass above S_(k) ~ Beta(n + 1 − k, k)
  const b = rank;
  return { expected: (m * a) / (controls + 1), pValue: betaBinomialSf(flagged, m, a, b), distribution: "beta-binomial" };
}

/** P(X ≥ k) for X ~ Binomial(n, p) (re-exported for the docs' comparison with the beta-binomial). */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  return betaRegularized(k, n - k + 1, p);
}
