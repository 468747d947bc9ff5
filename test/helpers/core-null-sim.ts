/**
 * Synthetic audits with a heteroscedastic null, for the fdr calibration test and the stress script
 * (scripts/fdr-stress.ts). The default shape is the one measured on real encoders (DESIGN.md §1):
 * 20% atypical points whose null score spread is 5× that of typical ones, told apart by their
 * reference alignment. A known subset of candidates is memorized: its score is shifted by `signal`.
 */
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { seededRng, type Rng } from "./core-random.ts";

export interface SimOptions {
  controls: number;
  candidates: number;
  /** Fraction of candidates that are memorized (true positives). */
  memorized: number;
  /** Score shift of a memorized point. */
  signal: number;
  /**
   * "step" (default): typical points (align_g ~ U(0.4, 0.7), sd 0.01) and atypical ones
   * (align_g ~ U(0.8, 1.3), sd 0.05). "increasing" / "decreasing": align_g log-normal around 0.5,
   * sd = 0.01·(align_g/0.5)^±2, a smooth dependence with sparse extremes.
   */
  shape?: "step" | "increasing" | "decreasing";
  /** Noise of the null score: normal (default), Student-t with 5 df, or right-skewed (centred log-normal). */
  noise?: "normal" | "t5" | "skew";
  atypicalFraction?: number;
  atypicalSd?: number;
}

export interface SimAudit {
  candidates: PointMeasurement[];
  controls: PointMeasurement[];
  /** truth[i]: candidate i is memorized. */
  truth: boolean[];
}

function noise(rng: Rng, kind: SimOptions["noise"]): number {
  const e = rng.normal();
  if (kind === "t5") {
    let s = 0;
    for (let i = 0; i < 5; i++) s += rng.normal() ** 2;
    return e / Math.sqrt(s / 5);
  }
  if (kind === "skew") return Math.exp(0.5 * e) - Math.exp(0.125);
  return e;
}

function point(rng: Rng, id: string, role: PointMeasurement["role"], o: SimOptions, shift: number): PointMeasurement {
  let alignReference: number;
  let sd: number;
  if ((o.shape ?? "step") === "step") {
    const atypical = rng.uniform() < (o.atypicalFraction ?? 0.2);
    alignReference = atypical ? 0.8 + 0.5 * rng.uniform() : 0.4 + 0.3 * rng.uniform();
    sd = atypical ? (o.atypicalSd ?? 0.05) : 0.01;
  } else {
    alignReference = 0.5 * Math.exp(0.35 * rng.normal());
    sd = 0.01 * (o.shape === "increasing" ? (alignReference / 0.5) ** 2 : (0.5 / alignReference) ** 2);
  }
  // The null mean drifts with the alignment too.
  const score = 0.02 * alignReference + sd * noise(rng, o.noise) + shift;
  return { id, role, alignTarget: alignReference - score, alignReference, score, stdErr: sd / 4, pairs: 16 };
}

export function simulateAudit(seed: number, opts: SimOptions): SimAudit {
  const rng = seededRng(seed);
  const controls = Array.from({ length: opts.controls }, (_, i) => point(rng, `c${i}`, "control", opts, 0));
  const truth = Array.from({ length: opts.candidates }, (_, i) => i < Math.round(opts.memorized * opts.candidates));
  const candidates = truth.map((t, i) => point(rng, `x${i}`, "candidate", opts, t ? opts.signal : 0));
  return { candidates, controls, truth };
}

/** False discovery proportion (0 when nothing is flagged) and true positive rate of a set of flags. */
export function fdpAndTpr(flagged: readonly boolean[], truth: readonly boolean[]): { fdp: number; tpr: number } {
  let falseFlags = 0;
  let trueFlags = 0;
  let positives = 0;
  flagged.forEach((f, i) => {
    if (truth[i]) positives++;
    if (f && truth[i]) trueFlags++;
    if (f && !truth[i]) falseFlags++;
  });
  const r = falseFlags + trueFlags;
  return { fdp: r === 0 ? 0 : falseFlags / r, tpr: positives === 0 ? 0 : trueFlags / positives };
}
