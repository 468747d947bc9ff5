import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { candidateScoreRange, ci95, measurePoint, normalizeScores, pairDistances, pointDistances, viewsPerPoint } from "../../src/core/sslmem.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);
const throwsCode = (fn: () => unknown, code: string) =>
  assert.throws(fn, (e: unknown) => e instanceof SslmemError && e.code === code);

describe("measurePoint", () => {
  it("computes alignments, score and standard error (K = 3, by hand)", () => {
    // d_f = (0.2, 0.4, 0.3), d_g = (0.5, 0.6, 0.7): differences (0.3, 0.2, 0.4), mean 0.3.
    // Deviations (0, −0.1, 0.1): Σ² = 0.02, sd = √(0.02/2) = 0.1, stdErr = 0.1/√3 = 0.0577350…
    const m = measurePoint("a.png", "candidate", [0.2, 0.4, 0.3], [0.5, 0.6, 0.7]);
    assert.equal(m.id, "a.png");
    assert.equal(m.role, "candidate");
    assert.equal(m.pairs, 3);
    close(m.alignTarget, 0.3);
    close(m.alignReference, 0.6);
    close(m.score, 0.3);
    close(m.stdErr, 0.1 / Math.sqrt(3));
  });

  it("has stdErr 0 with a single pair", () => {
    const m = measurePoint("x", "control", [0.25], [0.5]);
    close(m.score, 0.25);
    assert.equal(m.stdErr, 0);
  });

  it("rejects mismatched or empty distance lists, and non-finite distances", () => {
    throwsCode(() => measurePoint("x", "candidate", [0.1, 0.2], [0.1]), "internal");
    throwsCode(() => measurePoint("x", "candidate", [], []), "internal");
    throwsCode(() => measurePoint("x", "candidate", [0.1, NaN], [0.1, 0.2]), "model_output_invalid");
  });
});

describe("ci95", () => {
  it("uses Student-t with K − 1 degrees of freedom", () => {
    // t_{0.975, 2} = 4.302652729749464; half-width = 4.3026527 · 0.1/√3 = 0.2484138…
    const m = measurePoint("a", "candidate", [0.2, 0.4, 0.3], [0.5, 0.6, 0.7]);
    const { lo, hi } = ci95(m);
    close(hi - m.score, 4.302652729749464 * (0.1 / Math.sqrt(3)), 1e-9);
    close(m.score - lo, hi - m.score, 1e-15);
    // K = 16: t_{0.975, 15} = 2.131449545559323.
    const ci16 = ci95({ score: 1, stdErr: 0.5, pairs: 16 });
    close(ci16.hi, 1 + 2.131449545559323 * 0.5, 1e-9);
  });

  it("collapses to the score when K = 1", () => {
    assert.deepEqual(ci95({ score: 0.4, stdErr: 0, pairs: 1 }), { lo: 0.4, hi: 0.4 });
  });
});

describe("pairDistances", () => {
  // Four 2-D views: (1,0), (0,1), (1,0), (2,0).
  const views = { data: Float32Array.from([1, 0, 0, 1, 1, 0, 2, 0]), dim: 2 };

  it("pairs views 2j and 2j+1 for pairing 'views'", () => {
    const d = pairDistances(views, "views", "l2");
    assert.equal(d.length, 2);
    close(d[0], Math.SQRT2, 1e-7);
    close(d[1], 0);
  });

  it("pairs view 0 with each later view for pairing 'original'", () => {
    const d = pairDistances(views, "original", "cosine");
    assert.deepEqual(d, [1, 0, 0]);
    assert.equal(viewsPerPoint(3, "original"), 4);
    assert.equal(viewsPerPoint(3, "views"), 6);
  });

  it("rejects an odd number of views for 'views' and a lone view for 'original'", () => {
    throwsCode(() => pairDistances({ data: new Float32Array(6), dim: 2 }, "views", "l2"), "model_output_invalid");
    throwsCode(() => pairDistances({ data: new Float32Array(2), dim: 2 }, "original", "l2"), "model_output_invalid");
  });
});

describe("pointDistances", () => {
  it("measures both encoders on the same views, whatever their dimensions", () => {
    const target = { data: Float32Array.from([1, 0, 0, 1]), dim: 2 };
    const reference = { data: Float32Array.from([1, 0, 0, -1, 0, 0]), dim: 3 };
    const { dTarget, dReference } = pointDistances(target, reference, "views", "l2");
    close(dTarget[0], Math.SQRT2, 1e-7);
    close(dReference[0], 2);
    const m = measurePoint("p", "candidate", dTarget, dReference);
    close(m.score, 2 - Math.SQRT2, 1e-7);
  });

  it("rejects encoders that returned different numbers of views", () => {
    const target = { data: new Float32Array(8), dim: 2 };
    const reference = { data: new Float32Array(4), dim: 2 };
    throwsCode(() => pointDistances(target, reference, "views", "l2"), "model_output_invalid");
  });
});

function pm(id: string, role: PointMeasurement["role"], score: number): PointMeasurement {
  return { id, role, alignTarget: 0.5, alignReference: 0.5 + score, score, stdErr: 0.01, pairs: 4 };
}

describe("normalizeScores", () => {
  it("divides by the candidates' range, controls included", () => {
    // Candidate range: 3 − (−1) = 4.
    const out = normalizeScores([pm("a", "candidate", 1), pm("b", "candidate", 3), pm("c", "candidate", -1), pm("k", "control", 6)]);
    assert.deepEqual(
      out.map((p) => p.scoreNormalized),
      [0.25, 0.75, -0.25, 1.5],
    );
    assert.equal(candidateScoreRange(out), 4);
    assert.equal(out[0].id, "a");
  });

  it("gives 0 everywhere when the candidate range is 0", () => {
    const out = normalizeScores([pm("a", "candidate", 0.2), pm("b", "candidate", 0.2), pm("k", "control", 0.9)]);
    assert.deepEqual(
      out.map((p) => p.scoreNormalized),
      [0, 0, 0],
    );
    assert.deepEqual(normalizeScores([pm("only", "candidate", 0.7)])[0].scoreNormalized, 0);
  });
});
