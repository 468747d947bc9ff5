import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  gaussianBlur,
  gaussianKernel1d,
  referenceAugment,
  referenceCropResize,
  reflectIndex,
  solarize,
  toGrayscale,
} from "../../src/core/augment-reference.ts";
import { imageFrom, maxAbsDiff, viewWith } from "../helpers/augment-images.ts";

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-6) =>
  assert.ok(maxAbsDiff(actual, expected) <= tol, `got [${Array.from(actual).join(", ")}], expected [${expected.join(", ")}]`);

/** A CHW float image from per-pixel RGB triples (one row). */
const row = (...pixels: [number, number, number][]) =>
  Float32Array.from([0, 1, 2].flatMap((c) => pixels.map((p) => p[c])));

describe("crop + resize (bilinear, half-pixel centres)", () => {
  // one row, gray levels 0, 85, 170, 255 = 0, 1/3, 2/3, 1
  const ramp = imageFrom(1, 4, (_y, x) => 85 * x);
  const red = (img: Float32Array, w: number) => Array.from(img.subarray(0, w));

  it("upsamples with clamped edges and downsamples at pixel centres", () => {
    const two = imageFrom(1, 2, (_y, x) => 255 * x);
    // x_src = (x + 0.5)·2/4 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped to [0, 1]
    close(red(referenceCropResize(two, viewWith(two, {}), { height: 1, width: 4 }), 4), [0, 0.25, 0.75, 1]);
    // x_src = (x + 0.5)·4/2 − 0.5 = 0.5, 2.5
    close(red(referenceCropResize(ramp, viewWith(ramp, {}), { height: 1, width: 2 }), 2), [1 / 6, 5 / 6]);
  });

  it("clamps at the crop's edges, not the image's (torchvision crops, then resizes)", () => {
    const crop = { top: 0, left: 1, height: 1, width: 2 }; // values 1/3, 2/3
    close(red(referenceCropResize(ramp, viewWith(ramp, { crop }), { height: 1, width: 4 }), 4), [1 / 3, 5 / 12, 7 / 12, 2 / 3]);
    close(red(referenceCropResize(ramp, viewWith(ramp, { crop, flip: true }), { height: 1, width: 4 }), 4), [2 / 3, 7 / 12, 5 / 12, 1 / 3]);
  });

  it("writes channel-major planes scaled to [0, 1]", () => {
    const px = imageFrom(1, 1, (_y, _x, c) => [51, 102, 255][c]);
    close(referenceCropResize(px, viewWith(px, {}), { height: 1, width: 2 }), [0.2, 0.2, 0.4, 0.4, 1, 1]);
  });
});

describe("colour ops (torchvision tensor semantics)", () => {
  it("brightness multiplies and clamps", () => {
    close(adjustBrightness(row([0.5, 0.8, 0]), 1.5), [0.75, 1, 0]);
  });

  it("contrast blends with the mean of the grayscale image", () => {
    // gray(white) = 0.2989 + 0.587 + 0.114 = 0.9999, gray(black) = 0 → mean 0.49995
    const out = adjustContrast(row([1, 1, 1], [0, 0, 0]), 0.5);
    close(out, [0.749975, 0.249975, 0.749975, 0.249975, 0.749975, 0.249975]);
  });

  it("saturation blends with the grayscale image, clamped", () => {
    close(adjustSaturation(row([1, 0, 0]), 0), [0.2989, 0.2989, 0.2989]);
    close(adjustSaturation(row([1, 0, 0]), 2), [1, 0, 0]); // 2 − 0.2989 → 1, −0.2989 → 0
  });

  it("hue rotates in HSV and leaves grays alone", () => {
    close(adjustHue(row([1, 0, 0]), 1 / 3), [0, 1, 0]); // red → green
    close(adjustHue(row([1, 0, 0]), -1 / 6), [1, 0, 1]); // red → magenta (h wraps to 5/6)
    close(adjustHue(row([1, 0.5, 0]), 0.5), [0, 0.5, 1]); // orange (h = 1/12) → azure (7/12)
    close(adjustHue(row([0.3, 0.3, 0.3]), 0.25), [0.3, 0.3, 0.3]);
  });

  it("grayscale writes 0.2989 R + 0.587 G + 0.114 B to all channels", () => {
    close(toGrayscale(row([1, 0.5, 0])), [0.5924, 0.5924, 0.5924]);
  });

  it("solarize inverts values at or above the threshold", () => {
    close(solarize(Float32Array.from([0.2, 0.5, 0.9]), 0.5), [0.2, 0.5, 0.1]);
  });

  it("applies jitter ops in the view's order", () => {
    const img = imageFrom(2, 2, (y, x, c) => 40 + 50 * y + 30 * x + 20 * c);
    const out = { height: 2, width: 2 };
    const base = referenceCropResize(img, viewWith(img, {}), out);
    const jitter = { brightness: 1.8, contrast: 0.3, saturation: 1, hue: 0 };
    const bc = referenceAugment(img, viewWith(img, { jitter: { ...jitter, order: [0, 1, 2, 3] } }), out);
    const cb = referenceAugment(img, viewWith(img, { jitter: { ...jitter, order: [1, 0, 3, 2] } }), out);
    close(bc, Array.from(adjustContrast(adjustBrightness(base, 1.8), 0.3)), 0);
    close(cb, Array.from(adjustBrightness(adjustContrast(base, 0.3), 1.8)), 0);
    assert.ok(maxAbsDiff(bc, cb) > 0.01);
  });
});

describe("gaussian blur", () => {
  const a = Math.exp(-0.5) / (1 + 2 * Math.exp(-0.5)); // 0.27407
  const b = 1 / (1 + 2 * Math.exp(-0.5)); // 0.45186

  it("uses torchvision's normalized kernel", () => {
    close(gaussianKernel1d(3, 1), [a, b, a], 1e-12);
    close(gaussianKernel1d(1, 0.5), [1], 0);
  });

  it("has no tap that is subnormal in float32 (they take the CPU's slow path)", () => {
    const minNormal = 2 ** -126;
    for (const [size, sigma] of [[23, 0.5], [23, 0.3], [7, 0.15], [23, 0.1]] as const) {
      const kernel = gaussianKernel1d(size, sigma);
      const taps = Float32Array.from(kernel);
      assert.ok(taps.every((t) => t === 0 || t >= minNormal), `σ ${sigma}, ${size} taps`);
      // What was dropped was below BLUR_TAP_FLOOR; the rest is the normalized kernel.
      assert.ok(kernel.some((t) => t === 0), `σ ${sigma}, ${size} taps: some tap dropped`);
      close([kernel.reduce((a, t) => a + t, 0)], [1], 1e-12);
    }
    // Without subnormal taps (σ = 1 at 23 taps) nothing is dropped.
    assert.ok(gaussianKernel1d(23, 1).every((t) => t > 0));
  });

  it("reflects indices without repeating the edge pixel", () => {
    assert.deepEqual([-3, -2, -1, 0, 3, 4, 5, 6, 7].map((i) => reflectIndex(i, 4)), [3, 2, 1, 0, 3, 2, 1, 0, 1]);
    assert.equal(reflectIndex(-5, 1), 0);
  });

  it("blurs rows and columns with reflect padding", () => {
    const size = { height: 1, width: 5 };
    const impulse = new Float32Array(15);
    impulse[2] = 1;
    close(gaussianBlur(impulse, size, 3, 1).subarray(0, 5), [0, a, b, a, 0]);
    const edge = new Float32Array(15);
    edge[0] = 1; // reflect: x = −1 reads x = 1 (0), so the edge keeps weight b only
    close(gaussianBlur(edge, size, 3, 1).subarray(0, 5), [b, a, 0, 0, 0]);
    const column = new Float32Array(3 * 5).fill(0);
    column[2] = 1; // 5×1 image (one column), impulse at y = 2
    close(gaussianBlur(column, { height: 5, width: 1 }, 3, 1).subarray(0, 5), [0, a, b, a, 0]);
    const flat = new Float32Array(3 * 12).fill(0.4);
    close(gaussianBlur(flat, { height: 3, width: 4 }, 5, 2), new Array(36).fill(0.4));
  });
});
