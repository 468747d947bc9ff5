/**
 * Distances between embeddings (DESIGN.md §1): `l2` on L2-normalized vectors (the paper's
 * ‖n(h(x')) − n(h(x''))‖₂) and `cosine` (1 − cos).
 *
 * Zero vectors: n(0) := 0. An all-zero embedding has no direction, so it is placed at the origin
 * rather than rejected: its l2 distance to any unit vector is 1 and to another zero vector is 0;
 * its cosine distance to anything is 1 (n(a)·n(0) = 0). Encoders with a ReLU head can emit one, and
 * an audit should not die on it.
 *
 * Non-finite values (NaN, ±Inf) are a broken model or input, not a distance: they throw
 * `model_output_invalid`. Sums run in float64 whatever the storage type, and the l2 distance is
 * summed coordinate-wise instead of as √(2 − 2cos), which would lose all precision for the small
 * distances of a well-aligned encoder.
 */
import { SslmemError } from "./errors.ts";

export type DistanceKind = "l2" | "cosine";

function nonFinite(): SslmemError {
  return new SslmemError(
    "model_output_invalid",
    "the encoder produced NaN or infinite values in an embedding; check the model and its preprocessing (input range, mean/std)",
  );
}

/** ‖v‖₂ in float64; throws `model_output_invalid` when v has a NaN or ±Inf. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  // A finite float32/float64 squared sum stays finite in float64 unless an entry is NaN/Inf.
  if (!Number.isFinite(s)) throw nonFinite();
  return Math.sqrt(s);
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new SslmemError("model_output_invalid", `embeddings differ in dimension (${a.length} vs ${b.length})`);
  }
}

/**
 * Rows of a row-major N×D matrix scaled to unit L2 norm (zero rows stay zero).
 * Returns a new array; throws `model_output_invalid` on NaN/Inf or when the length is not N·D.
 */
export function normalizeRows(rows: Float32Array, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 1 || rows.length % dim !== 0) {
    throw new SslmemError("model_output_invalid", `embedding buffer of length ${rows.length} is not a whole number of rows of dimension ${dim}`);
  }
  const out = new Float32Array(rows.length);
  for (let start = 0; start < rows.length; start += dim) {
    const row = rows.subarray(start, start + dim);
    const n = norm(row);
    if (n === 0) continue;
    for (let i = 0; i < dim; i++) out[start + i] = row[i] / n;
  }
  return out;
}

/** ‖n(a) − n(b)‖₂ ∈ [0, 2]; `a` and `b` need not be normalized beforehand. */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  const na = norm(a);
  const nb = norm(b);
  const ia = na === 0 ? 0 : 1 / na;
  const ib = nb === 0 ? 0 : 1 / nb;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] * ia - b[i] * ib;
    s += d * d;
  }
  return Math.sqrt(s);
}

/** 1 − n(a)·n(b) ∈ [0, 2]; 1 when either vector is zero. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 || nb === 0) return 1;
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  // Rounding can push |cos| a hair past 1; clamp so the distance stays in [0, 2].
  const cos = Math.max(-1, Math.min(1, dot / (na * nb)));
  return 1 - cos;
}

export function distance(kind: DistanceKind, a: ArrayLike<number>, b: ArrayLike<number>): number {
  return kind === "l2" ? l2Distance(a, b) : cosineDistance(a, b);
}
