/**
 * The augmented views of a TF.js encoder, made on the TF.js backend with tf ops so that they never
 * leave it before the encoder runs: the TF.js counterpart of the ONNX augmentation graph
 * (augment-graph.ts), held to the TypeScript reference (core/augment-reference.ts) to ≤ 1e-4 per
 * pixel by test/engine/tfjs-augment.test.ts. Output: NHWC views, normalized as the ONNX graph does
 * (out = lo + (hi − lo)·(x − mean)/std).
 *
 * Crop + resize is two bilinear gathers (rows, then each view's columns), not
 * `tf.image.cropAndResize`: cropAndResize samples y = y1·(H−1) + i·(y2−y1)·(H−1)/(outH−1), an
 * affine map of the output index, while the reference (torchvision's resized_crop) samples
 * start + (i + ½)·len/out − ½ clamped to the crop's edges — not affine wherever the crop is
 * upsampled (the clamp bites at both ends), so no box reproduces it. The taps and weights are
 * computed on the host exactly as the reference computes them (sourceCoordinates) and the flip is
 * the mirrored column taps.
 *
 * Colour jitter runs per group of views sharing an order of its ops. Every other op is vectorized
 * over the batch with per-view parameters; a view that skips an op gets that op's identity
 * parameters (a 0/1 mask, a one-tap blur kernel), which leave its pixels bit-identical, and an op
 * no view of the batch uses is not run at all.
 */
import type * as tfType from "@tensorflow/tfjs";
import { GRAY_WEIGHTS, gaussianKernel1d, reflectIndex, sourceCoordinates } from "../../core/augment-reference.ts";
import { normalizationAffine } from "../../core/normalization.ts";
import { SslmemError } from "../../core/errors.ts";
import type { RgbImage } from "../../core/image.ts";
import { JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION, type Size, type ViewParams } from "../../core/view-params.ts";
import { loadTfjs, type Tf } from "./backend.ts";

type Tensor = tfType.Tensor;
type Rgb = [number, number, number];

/** One source image and the views to cut from it. */
export interface TfSourceViews {
  image: RgbImage;
  views: readonly ViewParams[];
}

export interface TfAugmentOptions {
  out: Size;
  /** Per-channel mean and std on the [0,1] scale, and the encoder's value range [lo, hi]. */
  mean: Rgb;
  std: Rgb;
  range: [number, number];
}

function checkSource({ image, views }: TfSourceViews): void {
  const { height: H, width: W } = image;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1 || image.data.length !== H * W * 3) {
    throw new SslmemError("image_invalid", `image data must hold height×width×3 bytes (${H}×${W})`);
  }
  for (const { crop } of views) {
    const whole = [crop.top, crop.left, crop.height, crop.width].every(Number.isInteger);
    if (!whole || crop.top < 0 || crop.left < 0 || crop.height < 1 || crop.width < 1 || crop.top + crop.height > H || crop.left + crop.width > W) {
      throw new SslmemError("internal", "view crop lies outside the source image (views sampled for another image?)");
    }
  }
}

export class TfAugmenter {
  private constructor(
    private readonly tf: Tf,
    readonly options: TfAugmentOptions,
    /** The TF.js package and backend the views are made on (backend.ts). */
    readonly backend: string,
  ) {}

  static async create(options: TfAugmentOptions): Promise<TfAugmenter> {
    const { out, std, range } = options;
    if (!Number.isInteger(out.height) || !Number.isInteger(out.width) || out.height < 1 || out.width < 1) {
      throw new SslmemError("invalid_config", `augmentation output size must be positive integers, got ${out.height}×${out.width}`);
    }
    if (!std.every((s) => s > 0) || !(range[0] < range[1])) throw new SslmemError("invalid_config", "preprocessing needs std > 0 and range [low, high] with low < high");
    const { tf, backend } = await loadTfjs();
    return new TfAugmenter(tf, options, backend);
  }

  /** The views of every image of a batch, in order, as one [views, H, W, 3] tensor the caller disposes. */
  run(batch: readonly TfSourceViews[]): tfType.Tensor4D {
    for (const b of batch) checkSource(b);
    const views = batch.flatMap((b) => b.views);
    if (views.length === 0) throw new SslmemError("internal", "an augmentation batch needs at least one view");
    const tf = this.tf;
    return tf.tidy(() => {
      let x = this.cropResize(batch.filter((b) => b.views.length > 0));
      x = this.jitter(x, views);
      x = this.grayscale(x, views);
      x = this.blur(x, views);
      x = this.solarize(x, views);
      return this.normalize(x, views.length);
    });
  }

  /**
   * Bilinear crop + resize (+ mirror) of every view of the batch: [views, outH, outW, 3] in [0, 1].
   * The sources are stacked into one [S·Hmax, Wmax, 3] tensor (smaller images padded, never
   * sampled), so the whole batch is two row gathers and two column gathers.
   */
  private cropResize(batch: readonly TfSourceViews[]): Tensor {
    const tf = this.tf;
    const { height: oh, width: ow } = this.options.out;
    const Hmax = Math.max(...batch.map((b) => b.image.height));
    const Wmax = Math.max(...batch.map((b) => b.image.width));
    const V = batch.reduce((n, b) => n + b.views.length, 0);
    const sources = new Uint8Array(batch.length * Hmax * Wmax * 3);
    const rows = [new Int32Array(V * oh), new Int32Array(V * oh)];
    const rowW = [new Float32Array(V * oh), new Float32Array(V * oh)];
    // Column taps index the row-resampled pixels flattened to [V·outH·Wmax, 3]: view v, row y, column x.
    const cols = [new Int32Array(V * oh * ow), new Int32Array(V * oh * ow)];
    const colW = [new Float32Array(V * ow), new Float32Array(V * ow)];
    let v = 0;
    batch.forEach(({ image, views }, s) => {
      const { height: H, width: W } = image;
      for (let y = 0; y < H; y++) sources.set(image.data.subarray(y * W * 3, (y + 1) * W * 3), (s * Hmax + y) * Wmax * 3);
      for (const view of views) {
        const ys = sourceCoordinates(view.crop.top, view.crop.height, oh, false);
        for (let y = 0; y < oh; y++) {
          const y0 = Math.floor(ys[y]);
          rows[0][v * oh + y] = s * Hmax + y0;
          rows[1][v * oh + y] = s * Hmax + Math.min(y0 + 1, H - 1);
          rowW[0][v * oh + y] = 1 - (ys[y] - y0);
          rowW[1][v * oh + y] = ys[y] - y0;
        }
        const xs = sourceCoordinates(view.crop.left, view.crop.width, ow, view.flip);
        for (let x = 0; x < ow; x++) {
          const x0 = Math.floor(xs[x]);
          const x1 = Math.min(x0 + 1, W - 1);
          for (let y = 0; y < oh; y++) {
            cols[0][(v * oh + y) * ow + x] = (v * oh + y) * Wmax + x0;
            cols[1][(v * oh + y) * ow + x] = (v * oh + y) * Wmax + x1;
          }
          colW[0][v * ow + x] = 1 - (xs[x] - x0);
          colW[1][v * ow + x] = xs[x] - x0;
        }
        v++;
      }
    });
    // Pixels as the reference reads them: float32(byte / 255).
    const src = tf.div(tf.tensor3d(sources, [batch.length * Hmax, Wmax, 3], "int32").toFloat(), 255);
    const gatherRows = (i: number) => tf.mul(tf.gather(src, tf.tensor1d(rows[i], "int32"), 0), tf.tensor3d(rowW[i], [V * oh, 1, 1]));
    const byRow = tf.reshape(tf.add(gatherRows(0), gatherRows(1)), [V * oh * Wmax, 3]);
    const gatherCols = (i: number) => tf.mul(tf.reshape(tf.gather(byRow, tf.tensor1d(cols[i], "int32"), 0), [V, oh, ow, 3]), tf.tensor4d(colW[i], [V, 1, ow, 1]));
    return tf.add(gatherCols(0), gatherCols(1));
  }

  /** A per-view scalar as a [V,1,1,1] tensor. */
  private perView(values: ArrayLike<number>): Tensor {
    return this.tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
  }

  /**
   * Channel c of NHWC pixels as [V,H,W,1], and channels put back together: products with one-hot
   * weights and a sum over the channel axis, exact (x·1 + 0 + 0). Slicing or splitting the last
   * axis takes a slow generic path on the wasm backend (more than the rest of the pipeline).
   */
  private channel(x: Tensor, c: number): Tensor {
    return this.tf.sum(this.tf.mul(x, this.tf.tensor4d([0, 1, 2].map((i) => (i === c ? 1 : 0)), [1, 1, 1, 3])), 3, true);
  }

  private stack([r, g, b]: Tensor[]): Tensor {
    const tf = this.tf;
    const at = (t: Tensor, c: number) => tf.mul(t, tf.tensor4d([0, 1, 2].map((i) => (i === c ? 1 : 0)), [1, 1, 1, 3]));
    return tf.addN([at(r, 0), at(g, 1), at(b, 2)]);
  }

  private gray(x: Tensor): Tensor {
    return this.tf.sum(this.tf.mul(x, this.tf.tensor4d([...GRAY_WEIGHTS], [1, 1, 1, 3])), 3, true);
  }

  /** clip(f·x + (1 − f)·other), the blend of contrast and saturation; f = 1 leaves x as it is. */
  private blend(x: Tensor, factor: readonly number[], other: Tensor): Tensor {
    const f = this.perView(factor);
    return this.tf.clipByValue(this.tf.add(this.tf.mul(f, x), this.tf.mul(this.tf.sub(1, f), other)), 0, 1);
  }

  /**
   * Colour jitter. Views are grouped by their order of the four ops; each group runs exactly its
   * ops in its order on its own views (an op whose factors are all identity in the group is not
   * run), then the batch is put back in view order. Each view's pixels go through each op once.
   */
  private jitter(x: Tensor, views: readonly ViewParams[]): Tensor {
    const tf = this.tf;
    const groups = new Map<string, number[]>();
    views.forEach((v, i) => {
      const key = v.jitter ? v.jitter.order.join("") : "";
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    if (groups.size === 1 && groups.has("")) return x;
    const parts: Tensor[] = [];
    const placed: number[] = [];
    for (const [key, members] of groups) {
      let g = groups.size === 1 ? x : tf.gather(x, tf.tensor1d(Int32Array.from(members), "int32"), 0);
      placed.push(...members);
      for (const op of key === "" ? [] : key.split("").map(Number)) {
        const factor = (value: (j: NonNullable<ViewParams["jitter"]>) => number) => members.map((i) => value(views[i].jitter!));
        if (op === JITTER_BRIGHTNESS) {
          const f = factor((j) => j.brightness);
          if (f.some((v) => v !== 1)) g = tf.clipByValue(tf.mul(g, this.perView(f)), 0, 1);
        } else if (op === JITTER_CONTRAST) {
          const f = factor((j) => j.contrast);
          if (f.some((v) => v !== 1)) g = this.blend(g, f, tf.mean(this.gray(g), [1, 2, 3], true));
        } else if (op === JITTER_SATURATION) {
          const f = factor((j) => j.saturation);
          if (f.some((v) => v !== 1)) g = this.blend(g, f, this.gray(g));
        } else if (op === JITTER_HUE) {
          const shift = factor((j) => j.hue);
          if (shift.some((v) => v !== 0)) {
            const hued = this.adjustHue(g, this.perView(shift));
            // The reference leaves a view with a zero shift untouched (no rgb→hsv→rgb round trip).
            g = shift.every((v) => v !== 0) ? hued : tf.where(tf.notEqual(tf.broadcastTo(this.perView(shift), g.shape), 0), hued, g);
          }
        }
      }
      parts.push(g);
    }
    if (parts.length === 1) return parts[0];
    const inverse = new Int32Array(views.length);
    placed.forEach((viewIndex, position) => (inverse[viewIndex] = position));
    return tf.gather(tf.concat(parts, 0), tf.tensor1d(inverse, "int32"), 0);
  }

  /** torchvision's adjust_hue: _rgb2hsv, h = (h + shift) mod 1, _hsv2rgb (as the reference). */
  private adjustHue(x: Tensor, shift: Tensor): Tensor {
    const tf = this.tf;
    const [r, g, b] = [0, 1, 2].map((c) => this.channel(x, c));
    const maxc = tf.max(x, 3, true);
    const minc = tf.min(x, 3, true);
    const ones = tf.onesLike(maxc);
    const eqc = tf.equal(maxc, minc);
    const cr = tf.sub(maxc, minc);
    const s = tf.div(cr, tf.where(eqc, ones, maxc));
    const crDivisor = tf.where(eqc, ones, cr);
    const rc = tf.div(tf.sub(maxc, r), crDivisor);
    const gc = tf.div(tf.sub(maxc, g), crDivisor);
    const bc = tf.div(tf.sub(maxc, b), crDivisor);
    const hRaw = tf.where(tf.equal(maxc, r), tf.sub(bc, gc), tf.where(tf.equal(maxc, g), tf.add(2, tf.sub(rc, bc)), tf.add(4, tf.sub(gc, rc))));
    const h = tf.mod(tf.add(tf.div(hRaw, 6), 1), 1);
    const m = tf.mod(tf.add(h, shift), 1);
    const i6 = tf.floor(tf.mul(m, 6));
    const f = tf.sub(tf.mul(m, 6), i6);
    const clip = (t: Tensor) => tf.clipByValue(t, 0, 1);
    const p = clip(tf.mul(maxc, tf.sub(1, s)));
    const q = clip(tf.mul(maxc, tf.sub(1, tf.mul(s, f))));
    const t = clip(tf.mul(maxc, tf.sub(1, tf.mul(s, tf.sub(1, f)))));
    const sector = tf.mod(i6, 6);
    const pick = (choices: Tensor[]) => choices.slice(1).reduce((acc, c, i) => tf.where(tf.equal(sector, i + 1), c, acc), choices[0]);
    const v = maxc;
    return this.stack([pick([v, q, p, p, t, v]), pick([t, v, v, q, p, p]), pick([p, p, t, v, v, q])]);
  }

  private grayscale(x: Tensor, views: readonly ViewParams[]): Tensor {
    if (!views.some((v) => v.grayscale)) return x;
    const tf = this.tf;
    // m·gray + (1 − m)·x with m ∈ {0, 1}: bit-exact either way.
    const m = this.perView(views.map((v) => (v.grayscale ? 1 : 0)));
    return tf.add(tf.mul(m, this.gray(x)), tf.mul(tf.sub(1, m), x));
  }

  /**
   * Separable gaussian blur with reflect padding, rows then columns, as two batched matrix
   * products with per-view band matrices (the reflect padding folded in, as the ONNX graph does):
   * out[v] = Mv[v] · (x[v] · Mh[v]ᵀ), rather than shifted slices (slow on the wasm backend). A view
   * without blur gets identity matrices (exact).
   */
  private blur(x: Tensor, views: readonly ViewParams[]): Tensor {
    if (!views.some((v) => v.blur)) return x;
    const tf = this.tf;
    const { height: oh, width: ow } = this.options.out;
    const V = views.length;
    const band = (n: number) => {
      const m = new Float32Array(V * n * n);
      views.forEach((v, i) => {
        const kernel = v.blur ? gaussianKernel1d(v.blur.kernelSize, v.blur.sigma) : Float64Array.of(1);
        const half = (kernel.length - 1) / 2;
        for (let o = 0; o < n; o++) for (let t = 0; t < kernel.length; t++) m[i * n * n + o * n + reflectIndex(o + t - half, n)] += kernel[t];
      });
      return m;
    };
    // Rows: with the width axis first, [W, H·3] ← Mh[W,W] · [W, H·3].
    const wFirst = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [V, ow, oh * 3]);
    const rows = tf.transpose(tf.reshape(tf.matMul(tf.tensor3d(band(ow), [V, ow, ow]), wFirst), [V, ow, oh, 3]), [0, 2, 1, 3]);
    // Columns: [H, W·3] ← Mv[H,H] · [H, W·3].
    return tf.reshape(tf.matMul(tf.tensor3d(band(oh), [V, oh, oh]), tf.reshape(rows, [V, oh, ow * 3])), [V, oh, ow, 3]);
  }

  private solarize(x: Tensor, views: readonly ViewParams[]): Tensor {
    if (!views.some((v) => v.solarize)) return x;
    const tf = this.tf;
    // A threshold above 1 never triggers (pixels are in [0, 1]).
    const threshold = tf.broadcastTo(this.perView(views.map((v) => (v.solarize ? v.solarize.threshold : 2))), x.shape);
    return tf.where(tf.greaterEqual(x, threshold), tf.sub(1, x), x);
  }

  private normalize(x: Tensor, n: number): tfType.Tensor4D {
    const tf = this.tf;
    const { scale: a, offset: b } = normalizationAffine(this.options);
    const y = a.some((v) => v !== 1) || b.some((v) => v !== 0) ? tf.add(tf.mul(x, tf.tensor4d(a, [1, 1, 1, 3])), tf.tensor4d(b, [1, 1, 1, 3])) : x;
    return tf.reshape<tfType.Rank.R4>(y, [n, this.options.out.height, this.options.out.width, 3]);
  }
}
