import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { alignmentWarnings, compareAlignments, encoderWarnings, invarianceStats, MAX_ALIGNMENT_RATIO } from "../../src/core/health.ts";

describe("invarianceStats (by hand)", () => {
  it("view distance, image distance and their ratio", () => {
    // 2 images × 2 views, dim 2. Image 0: (1,0),(0,1) → view distance √2. Image 1: (1,0),(1,0) → 0.
    // Different images: view 0 of image 0 (1,0) vs view 1 of image 1 (1,0) → 0; view 0 of image 1 (1,0) vs view 1 of image 0 (0,1) → √2.
    const rows = Float32Array.from([1, 0, 0, 1, 1, 0, 1, 0]);
    const s = invarianceStats(rows, 2);
    assert.ok(Math.abs(s.viewDistance - Math.SQRT2 / 2) < 1e-6);
    assert.ok(Math.abs(s.imageDistance - Math.SQRT2 / 2) < 1e-6);
    assert.ok(Math.abs(s.invarianceRatio - 1) < 1e-6);
    // Perfectly invariant, orthogonal images: ratio 0.
    const inv = invarianceStats(Float32Array.from([1, 0, 1, 0, 0, 1, 0, 1]), 2);
    assert.deepEqual([inv.viewDistance, inv.invarianceRatio], [0, 0]);
    assert.ok(Math.abs(inv.imageDistance - Math.SQRT2) < 1e-6);
    assert.throws(() => invarianceStats(Float32Array.from([1, 0, 1, 0]), 2), RangeError);
  });

  it("warnings: collapsed or non-invariant encoders, and a reference unlike the target", () => {
    const healthy = { viewDistance: 0.8, imageDistance: 1.38, invarianceRatio: 0.58 };
    assert.deepEqual(encoderWarnings(healthy, healthy), []);
    const collapsed = { viewDistance: 0.1, imageDistance: 0.15, invarianceRatio: 0.66 };
    const w = encoderWarnings(healthy, collapsed);
    assert.equal(w.length, 1);
    assert.match(w[0], /^the reference encoder maps different images close together \(mean distance 0\.15/);
    const loose = { viewDistance: 1.3, imageDistance: 1.35, invarianceRatio: 0.96 };
    assert.match(encoderWarnings(loose, healthy)[0], /^the target encoder does not look trained for invariance: views of one image are 0\.96×/);
    const fair = compareAlignments([0.9, 0.92], [0.93, 0.91])!;
    assert.ok(Math.abs(fair.ratio - 1.01098901) < 1e-6);
    assert.deepEqual(alignmentWarnings(fair), []);
    const unfair = compareAlignments([0.9], [0.1])!;
    assert.match(alignmentWarnings(unfair)[0], /the reference looks unlike the target: .* 0\.11× the target's \(outside 0\.67–1\.5\)/);
    assert.equal(alignmentWarnings(compareAlignments([0.5], [0.5 * MAX_ALIGNMENT_RATIO])).length, 0, "the bound itself is fine");
    assert.equal(compareAlignments([], []), undefined);
  });
});
