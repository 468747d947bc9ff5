import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { betaBinomialSf, binomialUpperTail, exactUpperTail, fprFlagCountTest, midranks, rankTest } from "../../src/core/evidence.ts";
import { conformalRank, fprFlags } from "../../src/core/calibration/fpr.ts";
import { seededRng } from "../helpers/core-random.ts";

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe("midranks", () => {
  it("gives ties the mean of their ranks and counts Σ(t³ − t)", () => {
    const { ranks, tieTerm } = midranks([3, 1, 3, 2]);
    assert.deepEqual(Array.from(ranks), [3.5, 1, 3.5, 2]);
    assert.equal(tieTerm, 6); // one pair: 2³ − 2
  });
});

describe("rankTest (one-sided Mann–Whitney)", () => {
  it("exact p-values of small samples (by hand: 2 vs 2 has 6 equally likely orders, U ∈ {0,1,2,2,3,4})", () => {
    const all = rankTest([3, 4], [1, 2]);
    assert.deepEqual([all.u, all.auc, all.pValueMethod], [4, 1, "exact"]);
    close(all.pValue, 1 / 6, 1e-12, "P(U ≥ 4)");
    const three = rankTest([2, 4], [1, 3]);
    assert.deepEqual([three.u, three.auc], [3, 0.75]);
    close(three.pValue, 2 / 6, 1e-12, "P(U ≥ 3)");
    close(rankTest([1, 2], [3, 4]).pValue, 1, 1e-12, "P(U ≥ 0)");
    // 1 vs 3: U ∈ {0,1,2,3} uniformly
    close(exactUpperTail(2, 1, 3), 0.5, 1e-12, "P(U ≥ 2), 1 vs 3");
  });

  it("ties: U counts them ½ and the p-value is the tie-corrected normal approximation (by hand)", () => {
    // all = 1,2,2,2,3 → midranks 1,3,3,3,5; candidate ranks 1+3+3 = 7, U = 7 − 6 = 1.
    const r = rankTest([1, 2, 2], [2, 3]);
    assert.equal(r.u, 1);
    close(r.auc, 1 / 6, 1e-12, "AUC");
    assert.equal(r.pValueMethod, "normal");
    // Var = n1·n2/12 · (N + 1 − Σ(t³−t)/(N(N−1))) = 0.5 · (6 − 24/20) = 2.4; z = (1 − 3 − 0.5)/√2.4 = −1.61374
    close(r.pValue, 0.946718, 2e-5, "p = Φ(1.61374)");
  });

  it("the AUC interval is DeLong's (by hand) and the excess fraction is 2·AUC − 1", () => {
    // candidates 2,4 vs controls 1,3: placements V10 = [1/2, 1], V01 = [1, 1/2]; s² = 1/8 each;
    // Var = 1/16 + 1/16, se = 0.353553; 0.75 ± 1.959964·se = [0.057049, 1.44 → 1]
    const r = rankTest([2, 4], [1, 3]);
    close(r.aucLow, 0.75 - 1.959964 * Math.sqrt(0.125), 1e-5, "aucLow");
    assert.equal(r.aucHigh, 1);
    close(r.excessFraction, 0.5, 1e-12, "2·0.75 − 1");
    assert.equal(r.excessFractionLow, 0); // 2·0.057 − 1 < 0
    const separated = rankTest([3, 4], [1, 2]);
    assert.deepEqual([separated.aucLow, separated.aucHigh, separated.excessFraction], [1, 1, 1]);
  });

  it("exact and normal p-values agree where both apply", () => {
    const rng = seededRng(5);
    const c = Array.from({ length: 40 }, () => rng.normal() + 0.5);
    const k = Array.from({ length: 50 }, () => rng.normal());
    const exact = rankTest(c, k); // 2000 pairs: exact
    assert.equal(exact.pValueMethod, "exact");
    const u = exact.u;
    const n = 90;
    const z = (u - 1000 - 0.5) / Math.sqrt((2000 / 12) * (n + 1));
    const normal = 0.5 * (1 - erf(z / Math.SQRT2));
    close(exact.pValue, normal, 0.1 * normal + 1e-4, "exact ≈ normal");
  });

  it("under the null its false-evidence rate is at most the level (score-level simulation, 2000 sets)", () => {
    // Candidates a clean encoder never saw are exchangeable with the controls: the same distribution.
    const rng = seededRng(12);
    const level = 0.01;
    let rejections = 0;
    const sets = 2000;
    for (let s = 0; s < sets; s++) {
      const heavy = s % 2 === 0; // a heavy-tailed, heteroscedastic null too: the rank test does not care
      const draw = () => (heavy ? rng.normal() / Math.max(0.05, Math.abs(rng.normal())) : rng.normal());
      const candidates = Array.from({ length: 60 }, draw);
      const controls = Array.from({ length: 80 }, draw);
      if (rankTest(candidates, controls).pValue <= level) rejections++;
    }
    // Binomial(2000, 0.01): mean 20, sd 4.45; allow 3 sd above the level.
    assert.ok(rejections <= 20 + 3 * 4.45, `false evidence in ${rejections} of ${sets} null sets (level ${level})`);
    assert.ok(rejections >= 5, `the test is not vacuous: ${rejections} rejections`);
  });

  it("finds a memorized minority among the candidates", () => {
    // 300 candidates, a quarter of them shifted up by two sd, 250 controls.
    const rng = seededRng(3);
    const candidates = Array.from({ length: 300 }, (_, i) => rng.normal() + (i < 75 ? 2 : 0));
    const controls = Array.from({ length: 250 }, () => rng.normal());
    const r = rankTest(candidates, controls);
    assert.ok(r.pValue < 0.01, `rank test p = ${r.pValue}`);
    assert.ok(r.auc > 0.5 && r.aucLow > 0.5, `AUC ${r.auc} [${r.aucLow}, ${r.aucHigh}]`);
    close(r.excessFraction, 2 * r.auc - 1, 1e-12, "excess fraction");
  });
});

describe("flag-count test", () => {
  it("beta-binomial tails (by hand)", () => {
    // a = b = 1: uniform on {0, 1, 2} for m = 2
    close(betaBinomialSf(1, 2, 1, 1), 2 / 3, 1e-12, "P(X ≥ 1)");
    close(betaBinomialSf(2, 2, 1, 1), 1 / 3, 1e-12, "P(X ≥ 2)");
    // m = 3, a = 1, b = 2: pmf 0.4, 0.3, 0.2, 0.1
    close(betaBinomialSf(1, 3, 1, 2), 0.6, 1e-12, "P(X ≥ 1)");
    close(betaBinomialSf(2, 3, 1, 2), 0.3, 1e-12, "P(X ≥ 2)");
    close(betaBinomialSf(3, 3, 1, 2), 0.1, 1e-12, "P(X ≥ 3)");
    assert.equal(betaBinomialSf(0, 3, 1, 2), 1);
    assert.equal(betaBinomialSf(4, 3, 1, 2), 0);
  });

  it("an fpr count: expected α_achieved·m false flags, and the exact test of the observed count", () => {
    // 1 control, cut at rank 1: the null mass above it is Beta(1, 1); 2 candidates.
    const t = fprFlagCountTest(1, 2, 1, 1);
    assert.equal(t.expected, 1);
    close(t.pValue, 2 / 3, 1e-12, "P(X ≥ 1)");
    // Many controls: close to Binomial(m, α). 200 candidates, 999 controls, α = 0.01 → k = 990.
    const { rank } = conformalRank(999, 0.01);
    const two = fprFlagCountTest(2, 200, 999, rank);
    close(two.expected, 2, 1e-12, "α·m");
    close(two.pValue, binomialUpperTail(2, 200, 0.01), 0.03, "≈ binomial");
    // the example: 2 flagged of 200 at α = 0.01 is what chance gives
    assert.ok(two.pValue > 0.5, `p = ${two.pValue}`);
    close(binomialUpperTail(1, 200, 0.01), 1 - 0.99 ** 200, 1e-9, "binomial by hand");
  });

  it("matches the real distribution of fpr flag counts on null sets", () => {
    // Over many null sets the beta-binomial p-value of the count is ≤ 0.05 in at most ~5% of them.
    const rng = seededRng(21);
    let small = 0;
    const sets = 1000;
    for (let s = 0; s < sets; s++) {
      const controls = Array.from({ length: 120 }, () => rng.normal());
      const candidates = Array.from({ length: 100 }, () => rng.normal());
      const out = fprFlags(candidates, controls, 0.05);
      const flagged = out.flagged.filter(Boolean).length;
      if (fprFlagCountTest(flagged, 100, 120, out.parameters.rank).pValue <= 0.05) small++;
    }
    assert.ok(small <= 50 + 3 * 6.9, `count p ≤ 0.05 in ${small} of ${sets} null sets`);
  });
});

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), for the cross-check only
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
