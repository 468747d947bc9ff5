import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { conformalPValue, conformalRank, fprFlags } from "../../src/core/calibration/fpr.ts";
import { sortedCopy } from "../../src/core/calibration/stats.ts";
import { seededRng } from "../helpers/core-random.ts";

describe("conformalRank", () => {
  it("is ⌈(1 − α)(n + 1)⌉ when reachable", () => {
    // 0.99·100 = 99 exactly (a naive float ceil gives 100)
    assert.deepEqual(conformalRank(99, 0.01), { rank: 99, reachable: true });
    // ⌈0.9·20⌉ = 18
    assert.deepEqual(conformalRank(19, 0.1), { rank: 18, reachable: true });
    // ⌈0.95·501⌉ = ⌈475.95⌉ = 476
    assert.deepEqual(conformalRank(500, 0.05), { rank: 476, reachable: true });
  });

  it("caps at n when α is out of reach (n < 1/α − 1)", () => {
    // ⌈0.95·11⌉ = 11 > 10
    assert.deepEqual(conformalRank(10, 0.05), { rank: 10, reachable: false });
    assert.deepEqual(conformalRank(98, 0.01), { rank: 98, reachable: false });
  });
});

describe("fprFlags", () => {
  it("flags above the conformal cut, with conformal p-values (by hand)", () => {
    // Controls 1..19, α = 0.1: k = 18, cut = 18.
    const controls = Array.from({ length: 19 }, (_, i) => i + 1);
    const out = fprFlags([18, 18.5, 19, 20, 0], controls, 0.1);
    assert.equal(out.threshold, 18);
    assert.deepEqual(out.flagged, [false, true, true, true, false]);
    // p = (1 + #{controls ≥ s})/20: 18 → 3/20, 18.5 → 2/20, 19 → 2/20, 20 → 1/20, 0 → 20/20
    assert.deepEqual(out.candidatePValues, [0.15, 0.1, 0.1, 0.05, 1]);
    assert.equal(out.calibrated, true);
    assert.deepEqual(out.warnings, []);
    assert.deepEqual(out.parameters, { alpha: 0.1, controls: 19, rank: 18, achievedAlpha: 0.1 });
    // A control against the other 18: (1 + #{others ≥ s})/19; the largest, 19, gets 1/19.
    assert.equal(out.controlPValues![18], 1 / 19);
    assert.equal(out.controlPValues![0], 1);
  });

  it("is conservative on ties: a candidate equal to the cut is not flagged", () => {
    const out = fprFlags([5, 5.0001], Array(50).fill(5), 0.05);
    assert.deepEqual(out.flagged, [false, true]);
  });

  it("falls back to the largest control, uncalibrated and with a warning, when α is out of reach", () => {
    const out = fprFlags([3.5, 10], [1, 2, 3], 0.01);
    assert.equal(out.threshold, 3);
    assert.deepEqual(out.flagged, [true, true]);
    assert.equal(out.calibrated, false);
    assert.equal(out.parameters.achievedAlpha, 0.25);
    assert.match(out.warnings[0], /needs at least 99 controls, got 3/);
  });

  it("flags exactly the candidates with p ≤ α (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: -25, max: 25 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(0.01, 0.05, 0.1, 0.2, 0.3),
        (controls, candidates, alpha) => {
          const out = fprFlags(candidates, controls, alpha);
          if (!out.calibrated) return;
          candidates.forEach((_, i) => assert.equal(out.flagged[i], out.candidatePValues![i] <= alpha + 1e-12));
          const sorted = sortedCopy(controls);
          candidates.forEach((s, i) => assert.equal(out.candidatePValues![i], conformalPValue(sorted, s)));
        },
      ),
    );
  });

  it("keeps the false-positive rate at α for exchangeable nulls (seeded simulation)", () => {
    // 400 audits of 99 controls and 50 null candidates at α = 0.1: the cut is the 90th of 99, so each
    // null candidate is flagged with probability exactly 1 − 90/100 = 0.1.
    const rng = seededRng(42);
    let flagged = 0;
    let total = 0;
    for (let r = 0; r < 400; r++) {
      const controls = Array.from({ length: 99 }, () => rng.normal());
      const candidates = Array.from({ length: 50 }, () => rng.normal());
      const out = fprFlags(candidates, controls, 0.1);
      flagged += out.flagged.filter(Boolean).length;
      total += candidates.length;
    }
    // sd of the rate over 400 audits ≈ 0.0035: ±0.015 is > 4 sd.
    assert.ok(Math.abs(flagged / total - 0.1) < 0.015, `false-positive rate ${flagged / total}`);
  });
});
