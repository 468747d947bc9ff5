import type { PointRole } from "./image.ts";

/** Per-point alignment measurements, before batch-level normalization and flags. */
export interface PointMeasurement {
  id: string;
  role: PointRole;
  /** align(f, x): mean distance of the target's embeddings of the view pairs. */
  alignTarget: number;
  /** align(g, x): the same for the reference encoder. */
  alignReference: number;
  /** mean over pairs of (d_g − d_f) = alignReference − alignTarget. */
  score: number;
  /** sd of the per-pair differences / √K. */
  stdErr: number;
  /** number of pairs (K). */
  pairs: number;
  /** LayerMem: the same measurement on each audited layer (core/layermem.ts), in layer order. */
  layers?: LayerScore[];
}

/** One point's SSLMem on one layer's representation. */
export interface LayerScore {
  alignTarget: number;
  alignReference: number;
  score: number;
  stdErr: number;
}

/** A point as reported: measurement plus batch-level normalization, p-value and flag. */
export interface PointResult extends PointMeasurement {
  scoreNormalized: number;
  pValue?: number;
  flagged: boolean;
}
