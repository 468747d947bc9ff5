/**
 * The SSLMem estimator (DESIGN.md §1): per-pair distances of the same views under the target f
 * and the reference g, and the per-point score mean(d_g − d_f) with its standard error.
 *
 * Pairings:
 * - "views" (default): 2K views per point; views 2j and 2j+1 form pair j.
 * - "original" (authors' code): K+1 views; view 0 is the un-augmented image and pair j is
 *   (view 0, view j+1).
 * Both encoders see the same views, so the per-pair difference is a paired (common random
 * numbers) estimate and its standard error is the sd of the differences / √K.
 */
import { distance, type DistanceKind } from "./distances.ts";
import { SslmemError } from "./errors.ts";
import type { PointRole } from "./image.ts";
import type { PointMeasurement } from "./scores.types.ts";
import { studentTQuantile } from "./calibration/distributions.ts";
import { mean, sampleSd } from "./calibration/stats.ts";

export type Pairing = "views" | "original";

/** The embeddings of one point's views under one encoder: row i (length dim) is view i. */
export interface ViewEmbeddings {
  readonly data: Float32Array;
  readonly dim: number;
}

function viewCount(e: ViewEmbeddings): number {
  if (!Number.isInteger(e.dim) || e.dim < 1 || e.data.length % e.dim !== 0) {
    throw new SslmemError("model_output_invalid", `embedding buffer of length ${e.data.length} is not a whole number of rows of dimension ${e.dim}`);
  }
  return e.data.length / e.dim;
}

/** Number of views a point needs for K pairs under a pairing. */
export function viewsPerPoint(pairs: number, pairing: Pairing): number {
  return pairing === "views" ? 2 * pairs : pairs + 1;
}

/** The K per-pair distances of one point's views under one encoder. */
export function pairDistances(views: ViewEmbeddings, pairing: Pairing, kind: DistanceKind): number[] {
  const n = viewCount(views);
  const { data, dim } = views;
  const row = (i: number) => data.subarray(i * dim, (i + 1) * dim);
  const out: number[] = [];
  if (pairing === "views") {
    if (n < 2 || n % 2 !== 0) throw new SslmemError("model_output_invalid", `pairing "views" needs an even number (≥ 2) of views per point, got ${n}`);
    for (let j = 0; j < n / 2; j++) out.push(distance(kind, row(2 * j), row(2 * j + 1)));
  } else {
    if (n < 2) throw new SslmemError("model_output_invalid", `pairing "original" needs the original and at least one view per point, got ${n} rows`);
    const original = row(0);
    for (let j = 1; j < n; j++) out.push(distance(kind, original, row(j)));
  }
  return out;
}

/** Per-pair distances of one point under both encoders (the same views, row for row). */
export function pointDistances(
  target: ViewEmbeddings,
  reference: ViewEmbeddings,
  pairing: Pairing,
  kind: DistanceKind,
): { dTarget: number[]; dReference: number[] } {
  const nt = viewCount(target);
  const nr = viewCount(reference);
  if (nt !== nr) {
    throw new SslmemError("model_output_invalid", `target and reference returned different numbers of embeddings for a point (${nt} vs ${nr})`);
  }
  // The two encoders may have different embedding dimensions; only the views must match.
  return { dTarget: pairDistances(target, pairing, kind), dReference: pairDistances(reference, pairing, kind) };
}

/** The per-point measurement from K paired distances (K ≥ 1; stdErr is 0 when K = 1). */
export function measurePoint(id: string, role: PointRole, dTarget: readonly number[], dReference: readonly number[]): PointMeasurement {
  const k = dTarget.length;
  if (k === 0 || dReference.length !== k) {
    throw new SslmemError("internal", `measurePoint needs the same positive number of target and reference distances (got ${k} and ${dReference.length})`);
  }
  const diff = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    diff[j] = dReference[j] - dTarget[j];
    if (!Number.isFinite(diff[j])) throw new SslmemError("model_output_invalid", "a view distance is not finite; check the encoders' outputs");
  }
  return {
    id,
    role,
    alignTarget: mean(dTarget),
    alignReference: mean(dReference),
    score: mean(diff),
    stdErr: k > 1 ? sampleSd(diff) / Math.sqrt(k) : 0,
    pairs: k,
  };
}

/**
 * 95% confidence interval of a point's score: score ± t_{0.975, K−1} · stdErr. Student-t rather
 * than normal because K is small (16 by default: t = 2.131 vs 1.960, 9% wider) and the pair
 * differences are i.i.d. given the point. With K = 1 there is no variance estimate: the interval
 * collapses to the score (stdErr = 0) and says nothing about uncertainty.
 */
export function ci95(m: Pick<PointMeasurement, "score" | "stdErr" | "pairs">): { lo: number; hi: number } {
  if (m.pairs < 2 || m.stdErr === 0) return { lo: m.score, hi: m.score };
  const half = studentTQuantile(0.975, m.pairs - 1) * m.stdErr;
  return { lo: m.score - half, hi: m.score + half };
}

/** max − min of the candidates' scores; 0 when there are fewer than two distinct scores. */
export function candidateScoreRange(points: readonly PointMeasurement[]): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    if (p.role !== "candidate") continue;
    if (p.score < lo) lo = p.score;
    if (p.score > hi) hi = p.score;
  }
  return hi > lo ? hi - lo : 0;
}

/**
 * scoreNormalized = score / (max − min over the candidates) — the authors' convention, kept for
 * comparability with the paper (DESIGN.md §1). Controls are divided by the same candidate range so
 * both roles share one scale. When the range is 0 (one candidate, or all candidate scores equal)
 * there is no scale to divide by and every scoreNormalized is 0.
 */
export function normalizeScores<T extends PointMeasurement>(points: readonly T[]): Array<T & { scoreNormalized: number }> {
  const range = candidateScoreRange(points);
  return points.map((p) => ({ ...p, scoreNormalized: range > 0 ? p.score / range : 0 }));
}
