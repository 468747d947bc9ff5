import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { benjaminiHochberg } from "../../src/core/calibration/bh.ts";
import { normalSf } from "../../src/core/calibration/distributions.ts";
import { FDR_MIN_CONTROLS, covariateRangeWarnings, fdrFlags, looWarnings } from "../../src/core/calibration/fdr.ts";
import { fitLocalNull } from "../../src/core/calibration/local-null.ts";
import { MAD_TO_SD, mad, median } from "../../src/core/calibration/stats.ts";
import { fitGeneralizedPareto, fitNullDistribution } from "../../src/core/calibration/tail-fit.ts";
import { SslmemError } from "../../src/core/errors.ts";
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { fdpAndTpr, simulateAudit } from "../helpers/core-null-sim.ts";
import { seededRng } from "../helpers/core-random.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);

describe("benjaminiHochberg", () => {
  it("rejects 4 of the 15 p-values of Benjamini & Hochberg (1995) at q = 0.05", () => {
    const p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.324, 0.4262, 0.5719, 0.6528, 0.759, 1.0];
    // i·q/m: p_(4) = 0.0095 ≤ 4·0.05/15 = 0.0133; p_(5) = 0.0201 > 0.0167 and no later p_(i) ≤ i·q/m.
    const shuffled = [9, 3, 14, 0, 7, 1, 12, 5, 2, 11, 4, 13, 6, 10, 8].map((i) => p[i]);
    const out = benjaminiHochberg(shuffled, 0.05);
    assert.equal(out.count, 4);
    close(out.pValueCut, (4 * 0.05) / 15);
    assert.deepEqual(
      shuffled.filter((_, i) => out.rejected[i]).sort((a, b) => a - b),
      [0.0001, 0.0004, 0.0019, 0.0095],
    );
  });

  it("steps up past a p-value above its own line", () => {
    // p_(1) = 0.02 > 0.1/3, but p_(2) = 0.05 ≤ 2·0.1/3: both are rejected.
    assert.deepEqual(benjaminiHochberg([0.05, 0.02, 0.9], 0.1).rejected, [true, true, false]);
  });

  it("handles no p-values and no rejections", () => {
    assert.deepEqual(benjaminiHochberg([], 0.05), { rejected: [], count: 0, pValueCut: 0 });
    assert.equal(benjaminiHochberg([0.5, 0.9], 0.05).count, 0);
  });
});

describe("fitLocalNull", () => {
  it("is the global median and 1.4826·MAD with one covariate value and k = n", () => {
    const local = fitLocalNull([1, 2, 3, 4, 100], [0, 0, 0, 0, 0], 5)!;
    assert.deepEqual(local.at(0), { location: 3, scale: MAD_TO_SD * 1 });
    // Without the 100: median 2.5, |s − 2.5| = 1.5, .5, .5, 1.5 → MAD 1.
    assert.deepEqual(local.leaveOneOut(4), { location: 2.5, scale: MAD_TO_SD * 1 });
    // Without the 3: median of 1, 2, 4, 100 is 3; |s − 3| = 2, 1, 1, 97 → MAD 1.5.
    assert.deepEqual(local.leaveOneOut(2), { location: 3, scale: MAD_TO_SD * 1.5 });
  });

  it("takes the wide side's scale where the spread jumps", () => {
    // c = 1..20; |s| = 0.1 for c ≤ 10 and 5 above, alternating in sign. k = 6.
    const c = Array.from({ length: 20 }, (_, i) => i + 1);
    const s = c.map((v) => (v % 2 === 0 ? 1 : -1) * (v <= 10 ? 0.1 : 5));
    const local = fitLocalNull(s, c, 6)!;
    // At c = 11 the 6 controls at or above (c = 11..16, ±5) have MAD 5, larger than the centred window's.
    close(local.at(11).scale, MAD_TO_SD * 5);
    // At c = 3 every window holds ±0.1 only: MAD 0.1.
    close(local.at(3).scale, MAD_TO_SD * 0.1);
  });

  it("floors the scale at 1% of the controls' global scale, and gives up when scores have no spread", () => {
    const local = fitLocalNull([0, 0, 0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 5, 6, 7, 8], 3)!;
    // Global: median 0.5, |s − 0.5| = .5 ×4, .5, 1.5, 2.5, 3.5 → MAD 0.5; floor = 0.01·1.4826·0.5.
    close(local.at(1).scale, 0.01 * MAD_TO_SD * 0.5);
    assert.equal(fitLocalNull([2, 2, 2], [1, 2, 3]), undefined);
  });
});

describe("generalized Pareto tail", () => {
  it("recovers the shape and scale of a GPD sample", () => {
    const rng = seededRng(7);
    // Inverse CDF: y = σ/ξ · (U^(−ξ) − 1) with σ = 1, ξ = 0.5.
    const y = Array.from({ length: 2000 }, () => 2 * (Math.pow(1 - rng.uniform(), -0.5) - 1));
    const fit = fitGeneralizedPareto(y)!;
    assert.ok(Math.abs(fit.shape - 0.5) < 0.12, `shape ${fit.shape}`);
    assert.ok(Math.abs(fit.scale - 1) < 0.15, `scale ${fit.scale}`);
  });

  it("clamps a light (bounded) tail to the exponential, ξ = 0", () => {
    const rng = seededRng(8);
    const y = Array.from({ length: 2000 }, () => rng.uniform()); // GPD with ξ = −1
    assert.equal(fitGeneralizedPareto(y)!.shape, 0);
  });

  it("is empirical in the body and follows its own quantile function in the tail", () => {
    const rng = seededRng(9);
    const z = Array.from({ length: 400 }, () => rng.normal());
    const nullZ = fitNullDistribution(z)!;
    assert.equal(nullZ.model.exceedances, 40);
    // Body: a value below every control has p = 1; the median control's p is about ½.
    assert.equal(nullZ.sf(-100), 1);
    close(nullZ.sf(median(z)), (1 + 200) / 401, 0.01);
    for (const v of [0.95, 0.999, 1 - 1e-6]) close(nullZ.sf(nullZ.quantile(v)), 1 - v, 1e-9 + 1e-9 * (1 - v));
    // The tail goes below 1/(n + 1) and is conservative for a normal null (ξ ≥ 0 plus margin).
    const p = nullZ.sf(4.5);
    assert.ok(p < 1 / 401 && p > normalSf(4.5), `p(4.5) = ${p}`);
  });
});

describe("fdrFlags", () => {
  it("keeps the FDR at q under a heteroscedastic null, where one global scale does not", () => {
    // 20% atypical points with a 5× null spread (DESIGN.md §1); 10% of the 1000 candidates memorized.
    // 50 seeded audits; realized FDP averaged. Ideal BH: q·π₀ = 0.045.
    const q = 0.05;
    const reps = 50;
    let fdpLocal = 0;
    let tprLocal = 0;
    let fdpGlobal = 0;
    for (let r = 0; r < reps; r++) {
      const audit = simulateAudit(100 + r, { controls: 400, candidates: 1000, memorized: 0.1, signal: 0.06 });
      const out = fdrFlags(audit.candidates, audit.controls, { q });
      const local = fdpAndTpr(out.flagged, audit.truth);
      fdpLocal += local.fdp;
      tprLocal += local.tpr;
      // The trap: one robust global scale from the controls and a normal tail.
      const scores = audit.controls.map((p) => p.score);
      const mu = median(scores);
      const sigma = MAD_TO_SD * mad(scores, mu);
      const global = benjaminiHochberg(
        audit.candidates.map((p) => normalSf((p.score - mu) / sigma)),
        q,
      );
      fdpGlobal += fdpAndTpr(global.rejected, audit.truth).fdp;
    }
    assert.ok(fdpLocal / reps <= q + 0.01, `FDR with the local null: ${fdpLocal / reps}`);
    assert.ok(fdpGlobal / reps > 4 * q, `FDR with one global scale: ${fdpGlobal / reps}`);
    // Not calibrated by flagging nothing: most memorized points are found.
    assert.ok(tprLocal / reps > 0.5, `TPR ${tprLocal / reps}`);
  });

  it("reports diagnostics that agree with calibration on a well-specified null", () => {
    const audit = simulateAudit(5, { controls: 400, candidates: 1000, memorized: 0.1, signal: 0.06 });
    const out = fdrFlags(audit.candidates, audit.controls, { q: 0.05 });
    const d = out.diagnostics!;
    assert.equal(d.controls, 400);
    assert.equal(d.covariate, "alignReference");
    assert.equal(d.neighbors, 60); // max(25, ⌈3·√400⌉)
    assert.equal(d.tail!.family, "generalized-pareto");
    assert.deepEqual(
      d.qq!.map((r) => r.quantile),
      [0.9, 0.95, 0.99],
    );
    assert.ok(d.looFalseFlagRate <= 3 * d.looExpectedRate + 0.005, JSON.stringify(d));
    assert.deepEqual(out.warnings, []);
    assert.equal(out.calibrated, true);
    assert.equal(out.controlPValues!.length, 400);
    close(out.parameters.pValueCut, (out.flagged.filter(Boolean).length * 0.05) / 1000);
    assert.equal(out.threshold, undefined);
  });

  it(`needs ${FDR_MIN_CONTROLS} controls and warns below 100`, () => {
    const audit = simulateAudit(6, { controls: 60, candidates: 100, memorized: 0, signal: 0 });
    assert.throws(
      () => fdrFlags(audit.candidates, audit.controls.slice(0, FDR_MIN_CONTROLS - 1), { q: 0.05 }),
      (e: unknown) => e instanceof SslmemError && e.code === "controls_required",
    );
    assert.match(fdrFlags(audit.candidates, audit.controls, { q: 0.05 }).warnings[0], /only 60 controls/);
  });

  it("falls back to empirical p-values when the controls have no spread", () => {
    const point = (id: string, role: PointMeasurement["role"], score: number): PointMeasurement => ({
      id,
      role,
      alignTarget: 0.5,
      alignReference: 0.5,
      score,
      stdErr: 0,
      pairs: 4,
    });
    const controls = Array.from({ length: 25 }, (_, i) => point(`c${i}`, "control", 0.1));
    const out = fdrFlags([point("a", "candidate", 0.5), point("b", "candidate", 0.1)], controls, { q: 0.2 });
    // p(0.5) = 1/26 ≤ 0.2/2 → flagged; p(0.1) = 26/26.
    assert.deepEqual(out.candidatePValues, [1 / 26, 1]);
    assert.deepEqual(out.flagged, [true, false]);
    assert.match(out.warnings.join("\n"), /no spread/);
  });
});

describe("calibration warnings", () => {
  it("warns when controls fall at or below the cut far more often than predicted", () => {
    // 10 of 200 controls at a cut of 0.5%: expected 1, P(Bin(200, 0.005) ≥ 10) ≈ 1e-7.
    assert.match(looWarnings({ controls: 200, looFalseFlagRate: 0.05, looExpectedRate: 0.005 })[0], /10 of 200 controls/);
    // 2 of 200 at 0.5%: P ≈ 0.26, no warning.
    assert.deepEqual(looWarnings({ controls: 200, looFalseFlagRate: 0.01, looExpectedRate: 0.005 }), []);
  });

  it("warns when many candidates lie outside the controls' covariate range", () => {
    const controls = Array.from({ length: 100 }, (_, i) => 0.4 + i * 0.003);
    const shifted = Array.from({ length: 100 }, (_, i) => 0.5 + i * 0.005);
    assert.match(covariateRangeWarnings(shifted, controls, "alignReference")[0], /outside the controls' range/);
    assert.deepEqual(covariateRangeWarnings([0.5, 0.6, 0.95], controls, "alignReference"), []);
  });
});
