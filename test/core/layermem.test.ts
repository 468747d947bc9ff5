/** LayerMem summaries by hand: means, medians, ΔLayerMem and where flagged points peak. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { measureLayer, peakLayer, summarizeLayers, type LayerDescription } from "../../src/core/layermem.ts";
import type { PointResult } from "../../src/core/scores.types.ts";

const layer = (name: string, final = false): LayerDescription => ({ name, target: name, reference: name, final, shape: [4], dim: 4 });
const point = (id: string, scores: number[], flagged: boolean, role: "candidate" | "control" = "candidate"): PointResult => ({
  id,
  role,
  alignTarget: 0,
  alignReference: 0,
  score: scores.at(-1)!,
  stdErr: 0,
  pairs: 2,
  scoreNormalized: 0,
  flagged,
  layers: scores.map((score) => ({ score, stdErr: 0, alignTarget: 0, alignReference: score })),
});

test("a layer's score is the audit estimator on that layer's distances", () => {
  const s = measureLayer("a", "candidate", [0.2, 0.4], [0.5, 0.9]);
  assert.ok(Math.abs(s.score - 0.4) < 1e-12); // mean of 0.3 and 0.5
  assert.ok(Math.abs(s.stdErr - 0.1) < 1e-12); // sd 0.1414 / √2
  assert.ok(Math.abs(s.alignTarget - 0.3) < 1e-12 && Math.abs(s.alignReference - 0.7) < 1e-12);
});

test("summaries: mean, median, Δ over the previous layer, and the flagged points' peak layers", () => {
  const layers = [layer("l1"), layer("l2"), layer("out", true)];
  const results = [
    point("a", [0.1, 0.5, 0.3], true), // peaks at l2
    point("b", [0.3, 0.1, 0.6], true), // peaks at out
    point("c", [0.2, 0.3, 0.0], false),
    point("ctl", [9, 9, 9], true, "control"), // controls do not count
  ];
  const s = summarizeLayers(layers, results);
  assert.deepEqual(s.map((l) => Number(l.meanScore.toFixed(10))), [0.2, 0.3, 0.3]);
  assert.deepEqual(s.map((l) => l.medianScore), [0.2, 0.3, 0.3]);
  assert.deepEqual(s.map((l) => Number(l.delta.toFixed(10))), [0.2, 0.1, 0]);
  assert.deepEqual(s.map((l) => l.flaggedPeaks), [0, 1, 1]);
  assert.deepEqual(s.map((l) => l.flaggedPeakFraction), [0, 0.5, 0.5]);
  assert.equal(peakLayer(results[2].layers!), 1);
});

test("no flagged candidates: every peak fraction is 0", () => {
  const s = summarizeLayers([layer("l1"), layer("out", true)], [point("a", [0.1, 0.2], false)]);
  assert.deepEqual(s.map((l) => l.flaggedPeakFraction), [0, 0]);
});
