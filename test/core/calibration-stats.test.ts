import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  betaRegularized,
  binomialSf,
  logGamma,
  normalQuantile,
  normalSf,
  studentTQuantile,
  studentTSf,
} from "../../src/core/calibration/distributions.ts";
import { countAtLeast, extent, mad, median, quantileOfSorted, sampleSd } from "../../src/core/calibration/stats.ts";

const rel = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${a} ≉ ${b} (rel ${tol})`);

describe("descriptive statistics", () => {
  it("median, MAD, sd and quantiles by hand", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    // |x − 3| = 2, 1, 0, 1, 97 → median 1
    assert.equal(mad([1, 2, 3, 4, 100], 3), 1);
    // Σ(x − 5)² = 32 over 7
    rel(sampleSd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), 1e-15);
    assert.equal(sampleSd([5]), 0);
    assert.equal(quantileOfSorted([1, 2, 3, 4], 0.5), 2.5);
    // h = 3·0.9 = 2.7 → 3 + 0.7·(4 − 3)
    rel(quantileOfSorted([1, 2, 3, 4], 0.9), 3.7, 1e-15);
    assert.equal(countAtLeast([1, 2, 2, 3], 2), 3);
    assert.equal(countAtLeast([1, 2, 2, 3], 3.5), 0);
    assert.deepEqual(extent([2, -1, 7]), { min: -1, max: 7 });
  });
});

describe("distribution functions", () => {
  it("normal tail and quantile", () => {
    rel(normalSf(1.959963984540054), 0.025, 1e-6);
    rel(normalSf(5), 2.866515718791939e-7, 1e-6);
    rel(normalSf(-1.959963984540054), 0.975, 1e-7);
    rel(normalQuantile(0.975), 1.959963984540054, 1e-8);
    rel(normalQuantile(1e-10), -6.361340902404056, 1e-8);
  });

  it("log-gamma and the incomplete beta", () => {
    rel(logGamma(5), Math.log(24), 1e-14);
    rel(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    // I_0.4(2, 3) = Σ_{j=2..4} C(4,j)·0.4^j·0.6^(4−j) = 0.3456 + 0.1536 + 0.0256
    rel(betaRegularized(2, 3, 0.4), 0.5248, 1e-12);
  });

  it("Student-t against closed forms", () => {
    rel(studentTSf(1, 1), 0.25, 1e-12); // Cauchy
    rel(studentTSf(2, 2), 0.5 - 1 / Math.sqrt(6), 1e-12); // ν = 2: ½ − t/(2√(t² + 2))
    const x = 10 / Math.sqrt(3); // ν = 3: ½ − (atan x + x/(1 + x²))/π, x = t/√3
    rel(studentTSf(10, 3), 0.5 - (Math.atan(x) + x / (1 + x * x)) / Math.PI, 1e-9);
    rel(studentTSf(-1, 1), 0.75, 1e-12);
    rel(studentTQuantile(0.975, 2), 4.302652729749464, 1e-9);
    rel(studentTQuantile(0.95, 5), 2.015048373333024, 1e-9);
    rel(studentTQuantile(0.025, 2), -4.302652729749464, 1e-9);
  });

  it("binomial upper tail", () => {
    assert.equal(binomialSf(0, 10, 0.3), 1);
    assert.equal(binomialSf(11, 10, 0.3), 0);
    rel(binomialSf(2, 3, 0.5), 0.5, 1e-12);
    // P(X ≥ 3), X ~ Bin(4, 0.2) = 4·0.2³·0.8 + 0.2⁴
    rel(binomialSf(3, 4, 0.2), 0.0272, 1e-12);
  });
});
