/**
 * Descriptive statistics shared by the estimator and the flag methods. All of them run in
 * float64 on copies; none mutates its input.
 */

/** 1.4826 · MAD estimates σ for normal data (1 / Φ⁻¹(3/4)). */
export const MAD_TO_SD = 1.4826;

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) throw new RangeError("mean of an empty sample");
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Smallest and largest value (a loop: spreading a large array into Math.min overflows the stack). */
export function extent(xs: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] < min) min = xs[i];
    if (xs[i] > max) max = xs[i];
  }
  return { min, max };
}

/** Sample standard deviation (n − 1 denominator); 0 for fewer than two values. */
export function sampleSd(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 0;
  const m = mean(xs);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - m) * (xs[i] - m);
  return Math.sqrt(ss / (n - 1));
}

export function sortedCopy(xs: ArrayLike<number>): Float64Array {
  return Float64Array.from(xs).sort();
}

/** Median of an ascending sample (mean of the two middle values when n is even). */
export function medianOfSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("median of an empty sample");
  const h = n >> 1;
  return n % 2 === 1 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

export function median(xs: ArrayLike<number>): number {
  return medianOfSorted(sortedCopy(xs));
}

/** Median absolute deviation from `center` (unscaled; multiply by MAD_TO_SD for a σ estimate). */
export function mad(xs: ArrayLike<number>, center: number): number {
  const dev = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) dev[i] = Math.abs(xs[i] - center);
  return medianOfSorted(dev.sort());
}

/**
 * The u-quantile of an ascending sample by linear interpolation between order statistics
 * (Hyndman–Fan type 7, R's default). Used for descriptive QQ summaries only; the flag cut of
 * `fpr` uses an exact order statistic instead (see fpr.ts).
 */
export function quantileOfSorted(sorted: ArrayLike<number>, u: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("quantile of an empty sample");
  const h = (n - 1) * Math.min(1, Math.max(0, u));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Index of the first entry ≥ x in an ascending array (binary search). */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of entries of an ascending sample that are ≥ x. */
export function countAtLeast(sorted: ArrayLike<number>, x: number): number {
  return sorted.length - lowerBound(sorted, x);
}
