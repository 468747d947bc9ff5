/**
 * UnitMem (Wang et al., "Localizing Memorization in SSL Vision Encoders", NeurIPS 2024): how
 * selectively one unit of a single encoder responds to one data point, over augmented views.
 *
 *   μ_k(u)      = mean activation of unit u over the augmented views of point k
 *                 (a convolutional channel is first averaged over its spatial positions)
 *   μ_max(u)    = max_k μ_k(u),  k*(u) = argmax
 *   μ_−max(u)   = median (the authors' code) or mean of μ_k(u) over the other points k ≠ k*
 *   UnitMem(u)  = (μ_max − μ_−max) / (μ_max + μ_−max)
 *
 * For non-negative activations (after a ReLU, as in the paper) UnitMem lies in [0, 1]: 0 = the
 * unit responds to every point alike, 1 = it responds to one point only. The ratio means nothing
 * once the baseline is negative (a unit of a layer without a ReLU, e.g. an embedding: μ_max = 0.8,
 * μ_−max = −0.3 would give 2.2), nor for a dead unit (μ_max + μ_−max ≤ 0). Such a unit is reported
 * with UnitMem 0 and `signed: true`, so it never ranks among the selective units, and the report
 * counts them per layer rather than hiding them.
 * No reference encoder is needed. Input: the per-point means, points × units (row-major), which
 * is all the streaming pass keeps (never the per-view activations).
 */
import { median } from "./calibration/stats.ts";

export const UNIT_BASELINES = ["median", "mean"] as const;
export type UnitBaseline = (typeof UNIT_BASELINES)[number];

export interface UnitScore {
  unit: number;
  unitMem: number;
  /** Index of the point the unit is most selective for (k*). */
  point: number;
  muMax: number;
  muOthers: number;
  /** μ_−max < 0 or μ_max + μ_−max ≤ 0: the ratio is undefined and unitMem is 0. */
  signed: boolean;
}

/** UnitMem of every unit from per-point means [points × units]; needs at least two points. */
export function unitMemScores(means: Float32Array | Float64Array, points: number, units: number, baseline: UnitBaseline): UnitScore[] {
  if (points < 2 || means.length !== points * units) throw new RangeError(`unitMemScores needs ≥ 2 points and ${points}×${units} means, got ${means.length}`);
  const column = new Float64Array(points - 1);
  const out: UnitScore[] = [];
  for (let u = 0; u < units; u++) {
    let best = 0;
    for (let k = 1; k < points; k++) if (means[k * units + u] > means[best * units + u]) best = k;
    let j = 0;
    let sum = 0;
    for (let k = 0; k < points; k++) {
      if (k === best) continue;
      column[j++] = means[k * units + u];
      sum += means[k * units + u];
    }
    const muMax = means[best * units + u];
    const muOthers = baseline === "median" ? median(column) : sum / (points - 1);
    const signed = muOthers < 0 || muMax + muOthers <= 0;
    out.push({ unit: u, unitMem: signed ? 0 : (muMax - muOthers) / (muMax + muOthers), point: best, muMax, muOthers, signed });
  }
  return out;
}

/** Running per-point means: views of a point may arrive over several batches (memory: points × units). */
export class PointUnitMeans {
  readonly means: Float64Array;

  constructor(
    readonly points: number,
    readonly units: number,
  ) {
    this.means = new Float64Array(points * units);
  }

  /** Stores point `index`'s means (one row of `units` values). */
  set(index: number, row: ArrayLike<number>): void {
    if (row.length !== this.units) throw new RangeError(`expected ${this.units} unit means, got ${row.length}`);
    for (let u = 0; u < this.units; u++) this.means[index * this.units + u] = row[u];
  }
}

/** Equal-width histogram of UnitMem values over [lo, hi] (20 bins). */
export function unitMemHistogram(values: readonly number[], bins = 20): { lo: number; hi: number; count: number }[] {
  // A loop, not Math.min(...values): a layer can have more units than the call stack has slots.
  let lo = 0;
  let hi = 1;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  return counts.map((count, i) => ({ lo: lo + i * width, hi: lo + (i + 1) * width, count }));
}
