import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UNCALIBRATED_ROBUST_WARNING, robustCenterScale, robustFlags } from "../../src/core/calibration/robust.ts";
import { thresholdFlags } from "../../src/core/calibration/threshold.ts";
import { SslmemError } from "../../src/core/errors.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);

describe("robustFlags", () => {
  it("flags z = (s − median)/(1.4826·MAD) ≥ robustZ (by hand)", () => {
    // median 3; |s − 3| = 2, 1, 0, 1, 97 → MAD 1 → scale 1.4826.
    // z(100) = 97/1.4826 = 65.4; z(4) = 0.67; cut on the score scale: 3 + 3.5·1.4826 = 8.1891.
    const out = robustFlags([1, 2, 3, 4, 100], 3.5);
    assert.deepEqual(out.flagged, [false, false, false, false, true]);
    close(out.threshold!, 3 + 3.5 * 1.4826);
    assert.deepEqual(out.parameters, { robustZ: 3.5, median: 3, scale: 1.4826 });
    assert.equal(out.calibrated, false);
    assert.deepEqual(out.warnings, [UNCALIBRATED_ROBUST_WARNING]);
    assert.equal(out.candidatePValues, undefined);
  });

  it("flags a score exactly at the cut (z ≥ robustZ)", () => {
    // median 0, MAD 1 → scale 1.4826; robustZ = 2 puts the cut at 2.9652.
    const out = robustFlags([-1, 0, 1, 0, 2.9652], 2);
    assert.deepEqual(out.flagged, [false, false, false, false, true]);
  });

  it("falls back to 1.2533 · mean absolute deviation when MAD = 0", () => {
    // median 5, MAD 0; mean |s − 5| = 4/5 = 0.8 → scale 1.00264; z(9) = 3.99 ≥ 3.5.
    const { center, scale } = robustCenterScale([5, 5, 5, 5, 9]);
    assert.equal(center, 5);
    close(scale, 1.2533 * 0.8);
    assert.deepEqual(robustFlags([5, 5, 5, 5, 9], 3.5).flagged, [false, false, false, false, true]);
  });

  it("flags nothing, and says why, when all scores are equal", () => {
    const out = robustFlags([0.2, 0.2, 0.2], 3.5);
    assert.deepEqual(out.flagged, [false, false, false]);
    assert.equal(out.threshold, undefined);
    assert.equal(out.warnings.length, 2);
    assert.match(out.warnings[1], /all candidate scores are equal/);
  });
});

describe("thresholdFlags", () => {
  it("flags scoreNormalized ≥ t and maps the cut to the score scale", () => {
    const out = thresholdFlags([0.1, 0.5, 0.49, 0.8], 0.5, 2);
    assert.deepEqual(out.flagged, [false, true, false, true]);
    assert.equal(out.threshold, 1);
    assert.equal(out.calibrated, false);
    assert.deepEqual(out.parameters, { threshold: 0.5 });
  });

  it("has no score-scale cut when the candidates have no range", () => {
    const out = thresholdFlags([0, 0], 0.5, 0);
    assert.deepEqual(out.flagged, [false, false]);
    assert.equal(out.threshold, undefined);
    assert.match(out.warnings[0], /no range/);
  });

  it("needs a threshold", () => {
    assert.throws(() => thresholdFlags([0.1], undefined, 1), (e: unknown) => e instanceof SslmemError && e.code === "invalid_config");
  });
});
