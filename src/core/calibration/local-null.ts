/**
 * The location μ(c) and scale σ(c) of the null score distribution as functions of a per-point
 * covariate c, estimated from the controls: at c, take the k controls nearest in c and use their
 * median and 1.4826·MAD. Nearest-neighbour windows adapt to however the controls' covariates are
 * spread (a fixed binning would leave sparse atypical regions with a handful of points), depend
 * only on the order of c (so c and log c give the same fit), and are robust to the odd extreme
 * control. Where σ jumps (typical → atypical points), a centred window straddling the jump would
 * standardize atypical points by their narrow neighbours and over-flag them, so σ(c) is the largest
 * of the centred and the two one-sided windows' scales (see windowStats). σ has a floor of 1% of
 * the controls' global robust scale, so a window of tied scores cannot make every difference
 * infinitely significant.
 *
 * `leaveOneOut(i)` refits at control i's covariate without control i: the standardized score of a
 * control against it is distributed like a non-memorized candidate's against the full fit, which
 * is what lets the tail of the null be fitted to the controls honestly (a control's in-sample
 * residual is shrunk, because it helped pick its own median).
 */
import { MAD_TO_SD, lowerBound, mad, median, medianOfSorted, sampleSd } from "./stats.ts";

export interface LocalNull {
  readonly controls: number;
  readonly neighbors: number;
  readonly scaleFloor: number;
  /** μ and σ at covariate c, from the k nearest controls. */
  at(c: number): { location: number; scale: number };
  /** μ and σ at control i's covariate (input order), from the k nearest other controls. */
  leaveOneOut(i: number): { location: number; scale: number };
}

/** Default neighbours per window: max(25, ⌈3√n⌉) — ≥ 25 keeps the MAD's error near 20%, √n keeps windows local as n grows. */
export function defaultNeighbors(n: number): number {
  return Math.max(25, Math.ceil(3 * Math.sqrt(n)));
}

/** Index of the first entry > x in an ascending array. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Fits the local null; returns undefined when the control scores have no spread at all (then no
 * scale exists and the caller must fall back to rank-based p-values).
 */
export function fitLocalNull(scores: readonly number[], covariates: readonly number[], neighbors?: number): LocalNull | undefined {
  const n = scores.length;
  const globalCenter = median(scores);
  let globalScale = MAD_TO_SD * mad(scores, globalCenter);
  if (globalScale === 0) globalScale = sampleSd(scores);
  if (!(globalScale > 0)) return undefined;
  const scaleFloor = 0.01 * globalScale;
  const k = Math.max(1, Math.min(n, neighbors ?? defaultNeighbors(n)));

  // Controls sorted by covariate (ties broken by score, then input order, for determinism).
  const order = scores.map((_, i) => i).sort((a, b) => covariates[a] - covariates[b] || scores[a] - scores[b] || a - b);
  const sortedC = Float64Array.from(order, (i) => covariates[i]);
  const sortedS = Float64Array.from(order, (i) => scores[i]);
  const rankOf = new Int32Array(n);
  order.forEach((orig, rank) => (rankOf[orig] = rank));

  const scratch = new Float64Array(n);
  const dev = new Float64Array(n);
  const cache = new Map<number, { location: number; scale: number }>();
  /** Median and 1.4826·MAD of the sorted controls [a, b) without sorted index `skip`. */
  function stats(a: number, b: number, skip: number): { location: number; scale: number } {
    const key = skip < 0 ? a * (n + 1) + b : -1;
    const hit = cache.get(key);
    if (hit) return hit;
    let taken = 0;
    for (let i = a; i < b; i++) if (i !== skip) scratch[taken++] = sortedS[i];
    const w = scratch.subarray(0, taken).sort();
    const location = medianOfSorted(w);
    for (let i = 0; i < taken; i++) dev[i] = Math.abs(w[i] - location);
    const result = { location, scale: MAD_TO_SD * medianOfSorted(dev.subarray(0, taken).sort()) };
    // Candidate windows ([a, b) with nothing skipped) recur: many candidates share one.
    if (key >= 0) cache.set(key, result);
    return result;
  }
  /** [a, b) of the `size` controls nearest to c (skip excluded, so b − a = size + 1 when it lies inside). */
  function centred(c: number, size: number, skip: number): [number, number] {
    let left = lowerBound(sortedC, c) - 1;
    let right = left + 1;
    for (let taken = 0; taken < size; taken++) {
      if (left === skip) left--;
      if (right === skip) right++;
      const canLeft = left >= 0;
      const canRight = right < n;
      if (!canLeft && !canRight) break;
      // Nearer side first; on a tie, the left (lower covariate) one, for determinism.
      if (canLeft && (!canRight || c - sortedC[left] <= sortedC[right] - c)) left--;
      else right++;
    }
    return [left + 1, right];
  }
  /**
   * The location and scale at c. The scale is the largest of three windows' — the k nearest, the k
   * nearest at or below c, the k nearest at or above c (a one-sided window counts only when at least
   * half full) — so that where σ jumps (typical → atypical points), a point on the wide side of the
   * jump is not standardized by its narrow neighbours across it; elsewhere the three agree up to noise.
   */
  function windowStats(c: number, size: number, skip: number): { location: number; scale: number } {
    const [a, b] = centred(c, size, skip);
    const centre = stats(a, b, skip);
    let scale = centre.scale;
    const minSide = Math.ceil(size / 2);
    const upTo = upperBound(sortedC, c); // controls with covariate ≤ c are [0, upTo)
    const leftCount = upTo - (skip >= 0 && skip < upTo ? 1 : 0);
    if (leftCount >= minSide) {
      let lo = upTo;
      for (let taken = 0; taken < size && lo > 0; ) if (--lo !== skip) taken++;
      scale = Math.max(scale, stats(lo, upTo, skip).scale);
    }
    const from = lowerBound(sortedC, c); // controls with covariate ≥ c are [from, n)
    const rightCount = n - from - (skip >= from ? 1 : 0);
    if (rightCount >= minSide) {
      let hi = from;
      for (let taken = 0; taken < size && hi < n; ) if (hi++ !== skip) taken++;
      scale = Math.max(scale, stats(from, hi, skip).scale);
    }
    return { location: centre.location, scale: Math.max(scale, scaleFloor) };
  }

  const kLoo = Math.min(k, n - 1);
  return {
    controls: n,
    neighbors: k,
    scaleFloor,
    at: (c) => windowStats(c, k, -1),
    leaveOneOut: (i) => {
      if (kLoo < 1) throw new RangeError("leave-one-out needs at least two controls");
      return windowStats(covariates[i], kLoo, rankOf[i]);
    },
  };
}
