/**
 * Synthetic audits with a heteroscedastic null, shaped like the one measured on real encoders
 * (DESIGN.md §1): 20% atypical points whose null score spread is 5× that of typical ones, told
 * apart (imperfectly) by their reference alignment. A known subset of candidates is memorized:
 * its score is shifted up by `signal`.
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
  atypicalFraction?: number;
  typicalSd?: number;
  atypicalSd?: number;
}

export interface SimAudit {
  candidates: PointMeasurement[];
  controls: PointMeasurement[];
  /** truth[i]: candidate i is memorized. */
  truth: boolean[];
}

function point(rng: Rng, id: string, role: PointMeasurement["role"], o: Required<SimOptions>, shift: number): PointMeasurement {
  const atypical = rng.uniform() < o.atypicalFraction;
  // Reference alignment: typical ~ U(0.4, 0.7), atypical ~ U(0.8, 1.3); the null mean drifts with it.
  const alignReference = atypical ? 0.8 + 0.5 * rng.uniform() : 0.4 + 0.3 * rng.uniform();
  const sd = atypical ? o.atypicalSd : o.typicalSd;
  const score = 0.02 * alignReference + sd * rng.normal() + shift;
  return { id, role, alignTarget: alignReference - score, alignReference, score, stdErr: sd / 4, pairs: 16 };
}

export function simulateAudit(seed: number, opts: SimOptions): SimAudit {
  const o: Required<SimOptions> = { atypicalFraction: 0.2, typicalSd: 0.01, atypicalSd: 0.05, ...opts };
  const rng = seededRng(seed);
  const controls = Array.from({ length: o.controls }, (_, i) => point(rng, `c${i}`, "control", o, 0));
  const truth = Array.from({ length: o.candidates }, (_, i) => i < Math.round(o.memorized * o.candidates));
  const candidates = truth.map((t, i) => point(rng, `x${i}`, "candidate", o, t ? o.signal : 0));
  return { candidates, controls, truth };
}

/** False discovery proportion and true positive rate of a set of flags. */
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
