/**
 * Plain TypeScript reference of every augmentation op (DESIGN.md §2). The ONNX graph built in
 * src/engine/augment-graph.ts is tested against this file; it is the definition of the pixels.
 *
 * Images are float32 CHW in [0, 1]; each stage's result is stored in a Float32Array, as torch
 * stores each op's result in a float32 tensor. Semantics are torchvision's tensor functionals:
 *
 * - crop + resize: `resized_crop` with bilinear interpolation, antialias off. Output pixel x samples
 *   x_src = left + (x + 0.5)·width/outW − 0.5, clamped to [left, left + width − 1] (torch's
 *   align_corners=False interpolation of the cropped tensor clamps at the crop's edges); same for y.
 *   NOTE: torchvision ≥ 0.17 antialiases tensor downscaling by default and PIL always does; this
 *   pipeline does not (a deliberate trade: one GridSample per batch of views).
 * - flip mirrors the output horizontally.
 * - colour jitter in the view's order: brightness x·f; contrast blends with the mean of the
 *   grayscale image; saturation blends with the grayscale image; hue via torchvision's
 *   _rgb2hsv/_hsv2rgb with h = (h + shift) mod 1; every blend clamped to [0, 1].
 * - grayscale 0.2989 R + 0.587 G + 0.114 B, on all three channels.
 * - gaussian blur: separable torchvision kernel, reflect padding (horizontal then vertical).
 * - solarize: x ≥ threshold ? 1 − x : x.
 */
import type { RgbImage } from "./image.ts";
import { JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION, type Size, type ViewParams } from "./view-params.ts";

export const GRAY_WEIGHTS = [0.2989, 0.587, 0.114] as const;

/**
 * Source coordinate (in pixels, pixel centres at integers) sampled by each output index along one
 * axis, for a crop [start, start + length) resized to `outLength`; `mirror` reverses the axis.
 */
export function sourceCoordinates(start: number, length: number, outLength: number, mirror: boolean): Float64Array {
  const coords = new Float64Array(outLength);
  for (let i = 0; i < outLength; i++) coords[i] = sourceCoordinate(start, length, outLength, mirror, i);
  return coords;
}

/** Element `i` of sourceCoordinates(start, length, outLength, mirror), without the array. */
export function sourceCoordinate(start: number, length: number, outLength: number, mirror: boolean, i: number): number {
  const o = mirror ? outLength - 1 - i : i;
  const c = start + (o + 0.5) * (length / outLength) - 0.5;
  return Math.min(Math.max(c, start), start + length - 1);
}

/**
 * Taps of a blur kernel below this (2^−100 ≈ 7.9e−31) are zero. A small σ at a large kernel size
 * makes taps that are subnormal in float32 (σ = 0.5, 23 taps: exp(−98) ≈ 2.7e−43 at 7 pixels out),
 * and every product with one takes the CPU's slow path: the augmentation graph's horizontal blur
 * product of 12 views at 224×224 ran in 57.6 / 76.2 ms with σ = 0.3 / 0.5 against 4.6 ms with
 * σ = 1 (no subnormal tap), on the 2-core machine (ONNX Runtime, 2 threads). A dropped tap moves a
 * pixel in [0, 1] by less than 2^−100 · 23, far below float32's resolution of any pixel it touches.
 */
export const BLUR_TAP_FLOOR = 2 ** -100;

/**
 * torchvision's _get_gaussian_kernel1d: exp(−½(x/σ)²) on x = −(k−1)/2 … (k−1)/2, normalized; taps
 * below BLUR_TAP_FLOOR are zero.
 */
export function gaussianKernel1d(kernelSize: number, sigma: number): Float64Array {
  const half = (kernelSize - 1) / 2;
  const kernel = new Float64Array(kernelSize);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    const x = (i - half) / sigma;
    kernel[i] = Math.exp(-0.5 * x * x);
    sum += kernel[i];
  }
  for (let i = 0; i < kernelSize; i++) {
    const tap = kernel[i] / sum;
    kernel[i] = tap < BLUR_TAP_FLOOR ? 0 : tap;
  }
  return kernel;
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Crop, resize (bilinear) and optional mirror of an 8-bit HWC image into float32 CHW in [0, 1]. */
export function referenceCropResize(image: RgbImage, view: ViewParams, out: Size): Float32Array {
  const { width: W, data } = image;
  const { height: oh, width: ow } = out;
  const xs = sourceCoordinates(view.crop.left, view.crop.width, ow, view.flip);
  const ys = sourceCoordinates(view.crop.top, view.crop.height, oh, false);
  const px = (y: number, x: number, c: number) => Math.fround(data[(y * W + x) * 3 + c] / 255);
  const result = new Float32Array(3 * oh * ow);
  for (let y = 0; y < oh; y++) {
    const y0 = Math.floor(ys[y]);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = ys[y] - y0;
    for (let x = 0; x < ow; x++) {
      const x0 = Math.floor(xs[x]);
      const x1 = Math.min(x0 + 1, W - 1);
      const wx = xs[x] - x0;
      for (let c = 0; c < 3; c++) {
        const top = px(y0, x0, c) * (1 - wx) + px(y0, x1, c) * wx;
        const bottom = px(y1, x0, c) * (1 - wx) + px(y1, x1, c) * wx;
        result[(c * oh + y) * ow + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return result;
}

function grayOf(img: Float32Array, plane: number): Float32Array {
  const gray = new Float32Array(plane);
  for (let i = 0; i < plane; i++) {
    gray[i] = GRAY_WEIGHTS[0] * img[i] + GRAY_WEIGHTS[1] * img[plane + i] + GRAY_WEIGHTS[2] * img[2 * plane + i];
  }
  return gray;
}

export function adjustBrightness(img: Float32Array, factor: number): Float32Array {
  return img.map((v) => clamp01(factor * v));
}

export function adjustContrast(img: Float32Array, factor: number): Float32Array {
  const plane = img.length / 3;
  const gray = grayOf(img, plane);
  let sum = 0;
  for (const g of gray) sum += g;
  const mean = Math.fround(sum / plane);
  return img.map((v) => clamp01(factor * v + (1 - factor) * mean));
}

export function adjustSaturation(img: Float32Array, factor: number): Float32Array {
  const plane = img.length / 3;
  const gray = grayOf(img, plane);
  return img.map((v, i) => clamp01(factor * v + (1 - factor) * gray[i % plane]));
}

/** torchvision adjust_hue on float tensors: _rgb2hsv, h = (h + shift) mod 1, _hsv2rgb. */
export function adjustHue(img: Float32Array, shift: number): Float32Array {
  const plane = img.length / 3;
  const result = new Float32Array(img.length);
  for (let i = 0; i < plane; i++) {
    const r = img[i];
    const g = img[plane + i];
    const b = img[2 * plane + i];
    // _rgb2hsv
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = maxc - minc;
    const s = cr / (eqc ? 1 : maxc);
    const crDivisor = eqc ? 1 : cr;
    const rc = (maxc - r) / crDivisor;
    const gc = (maxc - g) / crDivisor;
    const bc = (maxc - b) / crDivisor;
    let h = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
    h = (h / 6 + 1) % 1;
    // (h + shift) mod 1 with Python/torch semantics (result in [0, 1)), in float32
    h = Math.fround(Math.fround(h) + shift);
    let m = h % 1;
    if (m < 0) m = Math.fround(m + 1);
    // _hsv2rgb
    const v = maxc;
    const i6 = Math.floor(m * 6);
    const f = m * 6 - i6;
    const p = clamp01(v * (1 - s));
    const q = clamp01(v * (1 - s * f));
    const t = clamp01(v * (1 - s * (1 - f)));
    const sector = i6 % 6;
    const rgb =
      sector === 0 ? [v, t, p] : sector === 1 ? [q, v, p] : sector === 2 ? [p, v, t] : sector === 3 ? [p, q, v] : sector === 4 ? [t, p, v] : [v, p, q];
    result[i] = rgb[0];
    result[plane + i] = rgb[1];
    result[2 * plane + i] = rgb[2];
  }
  return result;
}

export function toGrayscale(img: Float32Array): Float32Array {
  const plane = img.length / 3;
  const gray = grayOf(img, plane);
  const result = new Float32Array(img.length);
  for (let c = 0; c < 3; c++) result.set(gray, c * plane);
  return result;
}

/** Index into [0, n) of position i under reflect padding (edge pixel not repeated). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** Separable gaussian blur with reflect padding: rows first, then columns. */
export function gaussianBlur(img: Float32Array, size: Size, kernelSize: number, sigma: number): Float32Array {
  const { height: h, width: w } = size;
  const kernel = gaussianKernel1d(kernelSize, sigma);
  const half = (kernelSize - 1) / 2;
  const rows = new Float32Array(img.length);
  const result = new Float32Array(img.length);
  for (let c = 0; c < 3; c++) {
    const base = c * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let k = 0; k < kernelSize; k++) acc += kernel[k] * img[base + y * w + reflectIndex(x + k - half, w)];
        rows[base + y * w + x] = acc;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let k = 0; k < kernelSize; k++) acc += kernel[k] * rows[base + reflectIndex(y + k - half, h) * w + x];
        result[base + y * w + x] = acc;
      }
    }
  }
  return result;
}

export function solarize(img: Float32Array, threshold: number): Float32Array {
  const t = Math.fround(threshold);
  return img.map((v) => (v >= t ? 1 - v : v));
}

/** One view of `image`: 3×outH×outW float32 in [0, 1], channel-major, before normalization. */
export function referenceAugment(image: RgbImage, view: ViewParams, out: Size): Float32Array {
  let img = referenceCropResize(image, view, out);
  if (view.jitter) {
    const j = view.jitter;
    for (const fn of j.order) {
      if (fn === JITTER_BRIGHTNESS) img = adjustBrightness(img, j.brightness);
      else if (fn === JITTER_CONTRAST) img = adjustContrast(img, j.contrast);
      else if (fn === JITTER_SATURATION) img = adjustSaturation(img, j.saturation);
      else if (fn === JITTER_HUE && j.hue !== 0) img = adjustHue(img, j.hue);
    }
  }
  if (view.grayscale) img = toGrayscale(img);
  if (view.blur) img = gaussianBlur(img, out, view.blur.kernelSize, view.blur.sigma);
  if (view.solarize) img = solarize(img, view.solarize.threshold);
  return img;
}
