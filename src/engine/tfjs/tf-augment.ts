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
 * Every other op is vectorized over the batch with per-view parameters; a view that skips an op gets
 * that op's identity parameters (factor 1, zero hue mask, a one-tap blur kernel), which leave its
 * pixels bit-identical, and an op no view of the batch uses is not run at all.
 */
import type * as tfType from "@tensorflow/tfjs";
import { GRAY_WEIGHTS, gaussianKernel1d, sourceCoordinates } from "../../core/augment-reference.ts";
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
      const crops = batch.filter((b) => b.views.length > 0).map((b) => this.cropResize(b));
      let x: Tensor = crops.length === 1 ? crops[0] : tf.concat(crops, 0);
      x = this.jitter(x, views);
      x = this.grayscale(x, views);
      x = this.blur(x, views);
      x = this.solarize(x, views);
      return this.normalize(x, views.length);
    });
  }

  /** Bilinear crop + resize (+ mirror) of one image's views: [V, outH, outW, 3] in [0, 1]. */
  private cropResize({ image, views }: TfSourceViews): Tensor {
    const tf = this.tf;
    const { height: oh, width: ow } = this.options.out;
    const { height: H, width: W } = image;
    const V = views.length;
    const rows = [new Int32Array(V * oh), new Int32Array(V * oh)];
    const rowW = [new Float32Array(V * oh), new Float32Array(V * oh)];
    // Column taps index the row-resampled pixels flattened to [V·outH·W, 3]: view v, row y, column x.
    const cols = [new Int32Array(V * oh * ow), new Int32Array(V * oh * ow)];
    const colW = [new Float32Array(V * ow), new Float32Array(V * ow)];
    views.forEach((view, v) => {
      const ys = sourceCoordinates(view.crop.top, view.crop.height, oh, false);
      for (let y = 0; y < oh; y++) {
        const y0 = Math.floor(ys[y]);
        rows[0][v * oh + y] = y0;
        rows[1][v * oh + y] = Math.min(y0 + 1, H - 1);
        rowW[0][v * oh + y] = 1 - (ys[y] - y0);
        rowW[1][v * oh + y] = ys[y] - y0;
      }
      const xs = sourceCoordinates(view.crop.left, view.crop.width, ow, view.flip);
      for (let x = 0; x < ow; x++) {
        const x0 = Math.floor(xs[x]);
        const x1 = Math.min(x0 + 1, W - 1);
        for (let y = 0; y < oh; y++) {
          cols[0][(v * oh + y) * ow + x] = (v * oh + y) * W + x0;
          cols[1][(v * oh + y) * ow + x] = (v * oh + y) * W + x1;
        }
        colW[0][v * ow + x] = 1 - (xs[x] - x0);
        colW[1][v * ow + x] = xs[x] - x0;
      }
    });
    // Pixels as the reference reads them: float32(byte / 255).
    const src = tf.div(tf.tensor3d(image.data, [H, W, 3], "int32").toFloat(), 255);
    const gatherRows = (i: number) => tf.mul(tf.gather(src, tf.tensor1d(rows[i], "int32"), 0), tf.tensor3d(rowW[i], [V * oh, 1, 1]));
    const byRow = tf.reshape(tf.add(gatherRows(0), gatherRows(1)), [V * oh * W, 3]);
    const gatherCols = (i: number) => tf.mul(tf.reshape(tf.gather(byRow, tf.tensor1d(cols[i], "int32"), 0), [V, oh, ow, 3]), tf.tensor4d(colW[i], [V, 1, ow, 1]));
    return tf.add(gatherCols(0), gatherCols(1));
  }

  /** A per-view scalar as a [V,1,1,1] tensor. */
  private perView(values: ArrayLike<number>): Tensor {
    return this.tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
  }

  private gray(x: Tensor): Tensor {
    const tf = this.tf;
    const [r, g, b] = tf.split(x, 3, 3);
    return tf.addN([tf.mul(r, GRAY_WEIGHTS[0]), tf.mul(g, GRAY_WEIGHTS[1]), tf.mul(b, GRAY_WEIGHTS[2])]);
  }

  /** clip(f·x + (1 − f)·other), the blend of contrast and saturation; f = 1 leaves x as it is. */
  private blend(x: Tensor, factor: readonly number[], other: Tensor): Tensor {
    const f = this.perView(factor);
    return this.tf.clipByValue(this.tf.add(this.tf.mul(f, x), this.tf.mul(this.tf.sub(1, f), other)), 0, 1);
  }

  /** Colour jitter, position by position of each view's order; a position's op runs only if some view needs it there. */
  private jitter(x: Tensor, views: readonly ViewParams[]): Tensor {
    const tf = this.tf;
    for (let k = 0; k < 4; k++) {
      const at = (op: number, value: (j: NonNullable<ViewParams["jitter"]>) => number, identity: number) =>
        views.map((v) => (v.jitter && v.jitter.order[k] === op ? value(v.jitter) : identity));
      const changes = (values: number[], identity: number) => values.some((f) => f !== identity);
      const brightness = at(JITTER_BRIGHTNESS, (j) => j.brightness, 1);
      if (changes(brightness, 1)) x = tf.clipByValue(tf.mul(x, this.perView(brightness)), 0, 1);
      const contrast = at(JITTER_CONTRAST, (j) => j.contrast, 1);
      if (changes(contrast, 1)) x = this.blend(x, contrast, tf.mean(this.gray(x), [1, 2, 3], true));
      const saturation = at(JITTER_SATURATION, (j) => j.saturation, 1);
      if (changes(saturation, 1)) x = this.blend(x, saturation, this.gray(x));
      const hue = at(JITTER_HUE, (j) => j.hue, 0);
      if (changes(hue, 0)) {
        const applied = tf.notEqual(tf.broadcastTo(this.perView(hue), x.shape), 0);
        x = tf.where(applied, this.adjustHue(x, this.perView(hue)), x);
      }
    }
    return x;
  }

  /** torchvision's adjust_hue: _rgb2hsv, h = (h + shift) mod 1, _hsv2rgb (as the reference). */
  private adjustHue(x: Tensor, shift: Tensor): Tensor {
    const tf = this.tf;
    const [r, g, b] = tf.split(x, 3, 3);
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
    return tf.concat([pick([v, q, p, p, t, v]), pick([t, v, v, q, p, p]), pick([p, p, t, v, v, q])], 3);
  }

  private grayscale(x: Tensor, views: readonly ViewParams[]): Tensor {
    if (!views.some((v) => v.grayscale)) return x;
    const tf = this.tf;
    // m·gray + (1 − m)·x with m ∈ {0, 1}: bit-exact either way.
    const m = this.perView(views.map((v) => (v.grayscale ? 1 : 0)));
    return tf.add(tf.mul(m, tf.tile(this.gray(x), [1, 1, 1, 3])), tf.mul(tf.sub(1, m), x));
  }

  /** Separable gaussian blur with reflect padding, rows then columns; per-view kernels centred in the widest. */
  private blur(x: Tensor, views: readonly ViewParams[]): Tensor {
    if (!views.some((v) => v.blur)) return x;
    const tf = this.tf;
    const K = Math.max(...views.map((v) => v.blur?.kernelSize ?? 1));
    const half = (K - 1) / 2;
    const taps = Array.from({ length: K }, () => new Float32Array(views.length));
    views.forEach((v, i) => {
      if (!v.blur) {
        taps[half][i] = 1;
        return;
      }
      const kernel = gaussianKernel1d(v.blur.kernelSize, v.blur.sigma);
      const offset = half - (kernel.length - 1) / 2;
      kernel.forEach((w, t) => (taps[offset + t][i] = w));
    });
    const weights = taps.map((t) => (t.some((w) => w !== 0) ? this.perView(t) : null));
    const pass = (input: Tensor, axis: 1 | 2): Tensor => {
      const n = axis === 2 ? this.options.out.width : this.options.out.height;
      const padded = tf.mirrorPad(input, axis === 2 ? [[0, 0], [0, 0], [half, half], [0, 0]] : [[0, 0], [half, half], [0, 0], [0, 0]], "reflect");
      const terms = weights.flatMap((w, t) => {
        if (!w) return [];
        const begin = axis === 2 ? [0, 0, t, 0] : [0, t, 0, 0];
        const size = axis === 2 ? [-1, -1, n, -1] : [-1, n, -1, -1];
        return [tf.mul(w, tf.slice(padded, begin, size))];
      });
      return terms.length === 1 ? terms[0] : tf.addN(terms);
    };
    return pass(pass(x, 2), 1);
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
    const { mean, std, range } = this.options;
    const [lo, hi] = range;
    const a = std.map((s) => (hi - lo) / s);
    const b = mean.map((m, c) => lo - (hi - lo) * (m / std[c]));
    const y = a.some((v) => v !== 1) || b.some((v) => v !== 0) ? tf.add(tf.mul(x, tf.tensor4d(a, [1, 1, 1, 3])), tf.tensor4d(b, [1, 1, 1, 3])) : x;
    return tf.reshape<tfType.Rank.R4>(y, [n, this.options.out.height, this.options.out.width, 3]);
  }
}
