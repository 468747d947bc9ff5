/**
 * LayerMem (Wang et al., "Localizing Memorization in SSL Vision Encoders", NeurIPS 2024): SSLMem
 * computed on each layer's representation instead of the encoder output, on the same views.
 * ΔLayerMem of a layer is its mean LayerMem minus the previous layer's: where memorization is
 * added. The per-layer score is on the same scale as the audit score (distances of unit vectors),
 * so layers can be compared directly; the last layer is the representation and equals the score.
 */
import { mean, median } from "./calibration/stats.ts";
import { measurePoint } from "./sslmem.ts";
import type { PointRole } from "./image.ts";
import type { LayerScore, PointResult } from "./scores.types.ts";

/** A layer's per-point score from its K paired distances (the same estimator as the audit score). */
export function measureLayer(id: string, role: PointRole, dTarget: readonly number[], dReference: readonly number[]): LayerScore {
  const m = measurePoint(id, role, dTarget, dReference);
  return { alignTarget: m.alignTarget, alignReference: m.alignReference, score: m.score, stdErr: m.stdErr };
}

export interface LayerDescription {
  name: string;
  target: string;
  reference: string;
  final: boolean;
  /** Shape of the target's layer value without the batch axis. */
  shape: number[];
  /** Width of a pooled row. */
  dim: number;
}

export interface LayerSummary extends LayerDescription {
  meanScore: number;
  medianScore: number;
  /** ΔLayerMem: meanScore minus the previous layer's (the first layer's own mean). */
  delta: number;
  /** Flagged candidates whose highest LayerMem is at this layer, over all flagged candidates (0 when none are flagged). */
  flaggedPeakFraction: number;
  /** Flagged candidates that peak here. */
  flaggedPeaks: number;
}

/** Index of the layer where a point's LayerMem is highest (the first one on ties). */
export function peakLayer(scores: readonly LayerScore[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i].score > scores[best].score) best = i;
  return best;
}

/** Per-layer statistics over the candidates; `results` must all carry `layers` aligned with `layers`. */
export function summarizeLayers(layers: readonly LayerDescription[], results: readonly PointResult[]): LayerSummary[] {
  const candidates = results.filter((r) => r.role === "candidate" && r.layers !== undefined);
  const flagged = candidates.filter((r) => r.flagged);
  const peaks = new Array<number>(layers.length).fill(0);
  for (const r of flagged) peaks[peakLayer(r.layers!)]++;
  let previous = 0;
  return layers.map((layer, i) => {
    const scores = candidates.map((r) => r.layers![i].score);
    const meanScore = scores.length > 0 ? mean(scores) : 0;
    const summary: LayerSummary = {
      ...layer,
      meanScore,
      medianScore: scores.length > 0 ? median(scores) : 0,
      delta: meanScore - previous,
      flaggedPeakFraction: flagged.length > 0 ? peaks[i] / flagged.length : 0,
      flaggedPeaks: peaks[i],
    };
    previous = meanScore;
    return summary;
  });
}
