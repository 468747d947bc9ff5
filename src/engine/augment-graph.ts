/**
 * The augmentation graph (DESIGN.md §2): one ONNX graph, built here in TypeScript, that turns a
 * batch of decoded source images and the host-sampled parameters of all their views into
 * encoder-ready tensors in one run. src/core/augment-reference.ts defines the pixels; this graph
 * computes the same thing.
 *
 *   sources uint8 [S,Hmax,Wmax,3] ─► rows: Gather + lerp ─► columns: MatMul ─► [V,3,oh,ow]
 *   ─► colour jitter ─► grayscale ─► blur ─► solarize ─► out = lo + (hi − lo)·(x − mean)/std
 *   ─► views [V,3,outH,outW] (NCHW) or [V,outH,outW,3] (NHWC)
 *
 * Every dimension that depends on the batch (S sources, V views, the sources' padded size) is
 * symbolic, so one graph (and one ONNX Runtime session) serves every batch of an audit, and the
 * graph can be composed with the encoders (fused-graph.ts).
 *
 * Design choices (why):
 * - Sources of different sizes are packed into one [S,Hmax,Wmax,3] tensor (zero padding that no
 *   view reads). Crop + bilinear resize (+ flip) is separable: each output row is a blend of two
 *   source rows, each output column a blend of two columns (torchvision's resized_crop with
 *   antialias off, as sourceCoordinates defines; a flip reverses the column order). The host
 *   computes, per view, the two row indices and weights (global rows of the packed channel planes)
 *   and a [Wmax, ow] column matrix with two non-zero weights per output column. The graph Gathers
 *   and blends rows, then multiplies by the column matrix: no per-view nodes, and the result is in
 *   the [V,3,oh,ow] layout with no transpose.
 * - Colour jitter applies a random permutation of four ops per view. Brightness, contrast and
 *   saturation are all one "blend stage": clip(f·x + (1 − f)·(α·gray(x) + β·mean(gray(x)))), with
 *   (α, β) = (0, 0) brightness, (0, 1) contrast, (1, 0) saturation — products by exact 0 and 1,
 *   so each computes exactly torchvision's formula, and f = 1 is the exact identity. The graph runs
 *   n blend stages, hue once, then n blend stages (n = number of cheap ops the policy uses); a
 *   view fills the stages before and after hue with its ops in its order, identities elsewhere.
 *   Hue and grayscale are blended in by a 0/1 weight per view, so an unused one is exactly the
 *   identity too.
 * - Blur is separable and per view: two batched MatMuls with per-view [ow,ow] and [oh,oh] band
 *   matrices into which the host folds the view's Gaussian kernel and the reflect padding. A view
 *   without blur gets identity matrices (exact). A depthwise Conv would need the number of views
 *   as its (static) group count.
 * - Stages the policy never uses are not built, so the 'none' and 'mae' presets cost the crop and
 *   resize and a normalization.
 * - The graph is emitted at the opset of the models it is composed with (13 and up): the few ops
 *   whose interface changed across those versions (Reduce*, Split) are written per opset.
 */
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationOp, AugmentationPolicy } from "../core/policy.ts";
import { GRAY_WEIGHTS, gaussianKernel1d, reflectIndex, sourceCoordinates } from "../core/augment-reference.ts";
import { blurKernelSize, JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION, type Size, type ViewParams } from "../core/view-params.ts";
import { elemTypeCode, GraphBuilder } from "./onnx/builder.ts";

export type Layout = "NCHW" | "NHWC";
type Rgb = readonly [number, number, number];

/** Lowest opset the graph can be emitted at (Reduce* and Split interfaces of opset 13). */
export const MIN_AUGMENT_OPSET = 13;
export const DEFAULT_AUGMENT_OPSET = 17;

/** The graph's stages, derived from a policy: only what some view may need is built. */
export interface AugmentStages {
  /** Cheap jitter ops the policy uses (0 brightness, 1 contrast, 2 saturation), ascending. */
  jitter: number[];
  hue: boolean;
  grayscale: boolean;
  /** Blur kernel size of the graph (the largest any view may use), 0 = no blur stage. */
  blurKernelSize: number;
  solarize: boolean;
}

/** Blend stages of the graph: as many before hue as cheap ops, as many again after it. */
export function blendStageCount(stages: AugmentStages): number {
  return stages.jitter.length * (stages.hue ? 2 : 1);
}

export interface AugmentGraphOptions {
  stages: AugmentStages;
  out: Size;
  layout: Layout;
  /** Per-channel mean and std on the [0,1] scale, and the encoder's value range [lo, hi]. */
  mean: Rgb;
  std: Rgb;
  range: readonly [number, number];
}

/** A graph input ready for an ORT tensor. */
export interface PackedInput {
  type: "float32" | "uint8" | "bool" | "int64" | "int32";
  data: Float32Array | Uint8Array | BigInt64Array | Int32Array;
  dims: number[];
}

/** One source image of a batch and the views to cut from it. */
export interface SourceViews {
  image: RgbImage;
  views: readonly ViewParams[];
}

/** The stages some view of `policy` may need, at output size `out`. */
export function stagesForPolicy(policy: AugmentationPolicy, out: Size): AugmentStages {
  const lists: AugmentationOp[][] = [policy.ops, ...(policy.secondViewOps ? [policy.secondViewOps] : [])];
  const cheap = new Set<number>();
  let hue = false;
  let grayscale = false;
  let blur = 0;
  let solarize = false;
  for (const op of lists.flat()) {
    if (op.op === "colorJitter" && op.p > 0) {
      if (op.brightness > 0) cheap.add(JITTER_BRIGHTNESS);
      if (op.contrast > 0) cheap.add(JITTER_CONTRAST);
      if (op.saturation > 0) cheap.add(JITTER_SATURATION);
      if (op.hue > 0) hue = true;
    } else if (op.op === "grayscale" && op.p > 0) grayscale = true;
    else if (op.op === "gaussianBlur" && op.p > 0) blur = Math.max(blur, blurKernelSize(op, out));
    else if (op.op === "solarize" && op.p > 0) solarize = true;
  }
  return { jitter: [...cheap].sort(), hue, grayscale, blurKernelSize: blur, solarize };
}

/** Ops whose interface depends on the opset the graph is emitted at. */
export class OpsetOps {
  constructor(
    private readonly g: GraphBuilder,
    readonly opset: number,
  ) {
    if (opset < MIN_AUGMENT_OPSET) throw new SslmemError("internal", `the augmentation graph needs opset ${MIN_AUGMENT_OPSET} or later, not ${opset}`);
  }

  /** Reduce* over `axes`: axes became an input in opset 13 (ReduceSum) and 18 (the others). */
  reduce(op: "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin", x: string, axes: number[], keepdims: 0 | 1): string {
    const axesAsInput = op === "ReduceSum" || this.opset >= 18;
    return axesAsInput ? this.g.op1(op, [x, this.g.constInt64(axes)], { keepdims }) : this.g.op1(op, [x], { axes, keepdims });
  }

  /** Equal split along `axis` into `parts` outputs (opset 18 wants num_outputs). */
  split(x: string, axis: number, parts: number): string[] {
    return this.g.op("Split", [x], this.opset >= 18 ? { axis, num_outputs: parts } : { axis }, parts);
  }
}

/** Names of the graph inputs (the standalone graph's; a composed graph prefixes nothing). */
export const AUGMENT_INPUTS = {
  sources: "sources",
  rowIndex: ["row_index0", "row_index1"],
  rowWeight: "row_weight",
  columns: "columns",
} as const;

/**
 * Emits the augmentation into `g` (declaring its inputs) and returns the name of the views value:
 * [V,3,oh,ow] for NCHW, [V,oh,ow,3] for NHWC, normalized for the encoder.
 */
export function emitAugmentation(g: GraphBuilder, opts: AugmentGraphOptions, opset: number): string {
  const { stages, out, layout } = opts;
  const { height: oh, width: ow } = out;
  const ops = new OpsetOps(g, opset);
  // Constants are created on first use (GraphBuilder deduplicates them), so no stage leaves
  // unused initializers behind.
  const one = () => g.constFloat(1);
  const zero = () => g.constFloat(0);
  const clip01 = (t: string) => g.op1("Clip", [t, zero(), one()]);

  // Sources uint8 [S,Hmax,Wmax,3] → planes [S,3,Hmax,Wmax] → rows of one channel [S·3·Hmax, Wmax] in [0,1].
  const sources = g.input(AUGMENT_INPUTS.sources, "uint8", ["sources", "source_height", "source_width", 3]);
  const planes = g.op1("Transpose", [sources], { perm: [0, 3, 1, 2] });
  const rows = g.op1("Div", [g.op1("Cast", [g.op1("Flatten", [planes], { axis: 3 })], { to: elemTypeCode("float") }), g.constFloat(255)]);
  // Rows: view v's output row y of channel c blends source rows row_index0/1[v,c,y] ((s·3 + c)·Hmax + y)
  // as r0 + w·(r1 − r0): one multiplication by the per-row weight (ORT's broadcasting Mul over rows
  // is three times slower per element than a plain Sub or Add; the crop and resize was a fifth of
  // the augmentation at 64×64). Gather indices are int32: the host fills them without BigInt
  // conversions.
  const rowIndex = AUGMENT_INPUTS.rowIndex.map((n) => g.input(n, "int32", ["views", 3, oh]));
  const rowWeight = g.input(AUGMENT_INPUTS.rowWeight, "float", ["views", 1, oh, 1]);
  const [r0, r1] = rowIndex.map((index) => g.op1("Gather", [rows, index], { axis: 0 }));
  const byRow = g.op1("Add", [r0, g.op1("Mul", [g.op1("Sub", [r1, r0]), rowWeight])]); // [V,3,oh,Wmax]
  // Columns: a per-view [Wmax, ow] matrix with the two column weights of each output column.
  const columns = g.input(AUGMENT_INPUTS.columns, "float", ["views", 1, "source_width", ow]);
  let x = g.op1("MatMul", [byRow, columns]); // [V,3,oh,ow]

  // gray = Σ_c w_c·x_c as one batched [1,3]×[3,H·W] MatMul per view (one op instead of a
  // broadcasting Mul and a ReduceSum).
  const gray = (t: string) =>
    g.op1("Reshape", [g.op1("MatMul", [g.constFloat(GRAY_WEIGHTS, [1, 3]), g.op1("Reshape", [t, g.constInt64([0, 3, oh * ow])])]), g.constInt64([0, 1, oh, ow])]);

  // Blend stages (see the file comment). Input `jitter` [stages, 3, V,1,1,1]: f, (1 − f)·α, (1 − f)·β.
  const usesGray = stages.jitter.includes(JITTER_SATURATION);
  const usesMean = stages.jitter.includes(JITTER_CONTRAST);
  const blendParams = blendStageCount(stages) > 0 ? g.input("jitter", "float", [blendStageCount(stages), 3, "views", 1, 1, 1]) : "";
  let nextStage = 0;
  const blendStages = (t: string, count: number) => {
    for (let i = 0; i < count; i++) {
      const params = g.op1("Gather", [blendParams, g.constInt64(nextStage++, [])], { axis: 0 });
      const param = (k: number) => g.op1("Gather", [params, g.constInt64(k, [])], { axis: 0 });
      const f = param(0);
      // (1 − f)·α and (1 − f)·β come from the host: α, β ∈ {0, 1}, so each term is exactly
      // (1 − f)·gray or (1 − f)·mean, or exactly 0. They are summed on the single grey channel
      // and broadcast onto the three once.
      const grayT = usesGray || usesMean ? gray(t) : "";
      let offset = usesGray ? g.op1("Mul", [grayT, param(1)]) : "";
      if (usesMean) {
        const mean = g.op1("Mul", [ops.reduce("ReduceMean", grayT, [1, 2, 3], 1), param(2)]);
        offset = offset ? g.op1("Add", [offset, mean]) : mean;
      }
      const scaled = g.op1("Mul", [t, f]);
      t = clip01(offset ? g.op1("Add", [scaled, offset]) : scaled);
    }
    return t;
  };

  x = blendStages(x, stages.jitter.length);
  if (stages.hue) {
    const shift = g.input("hue", "float", ["views", 1, 1, 1]);
    // x + used·(hue(x) − x): a view without hue (used = 0) keeps x exactly (0·finite = 0), at the
    // cost of elementwise ops (a broadcast Where over the views tensor is several times slower).
    const used = g.op1("Cast", [g.op1("Not", [g.op1("Equal", [shift, zero()])])], { to: elemTypeCode("float") });
    x = g.op1("Add", [x, g.op1("Mul", [used, g.op1("Sub", [adjustHue(g, ops, x, shift), x])])]);
    x = blendStages(x, stages.jitter.length);
  }
  if (stages.grayscale) {
    // flag ∈ {0, 1}: x + flag·(gray(x) − x), exactly x when the flag is 0.
    const flag = g.input("grayscale", "float", ["views", 1, 1, 1]);
    x = g.op1("Add", [x, g.op1("Mul", [flag, g.op1("Sub", [gray(x), x])])]);
  }
  if (stages.blurKernelSize > 0) {
    // Rows first, then columns, as the reference: x·Bhᵀ then Bv·x, per view.
    const bh = g.input("blur_h", "float", ["views", 1, ow, ow]);
    const bv = g.input("blur_v", "float", ["views", 1, oh, oh]);
    x = g.op1("MatMul", [bv, g.op1("MatMul", [x, bh])]);
  }
  if (stages.solarize) {
    const threshold = g.input("solarize", "float", ["views", 1, 1, 1]);
    x = g.op1("Where", [g.op1("GreaterOrEqual", [x, threshold]), g.op1("Sub", [one(), x]), x]);
  }

  // out = lo + (hi − lo)·(x − mean)/std = x·a + b, per channel.
  const [lo, hi] = opts.range;
  const a = opts.std.map((s) => (hi - lo) / s);
  const b = opts.mean.map((m, c) => lo - (hi - lo) * (m / opts.std[c]));
  if (a.some((v) => v !== 1) || b.some((v) => v !== 0)) {
    x = g.op1("Add", [g.op1("Mul", [x, g.constFloat(a, [1, 3, 1, 1])]), g.constFloat(b, [1, 3, 1, 1])]);
  }
  return layout === "NHWC" ? g.op1("Transpose", [x], { perm: [0, 2, 3, 1] }) : x;
}

/** The standalone augmentation model: the inputs of packAugmentInputs in, `views` out. */
export function buildAugmentGraph(opts: AugmentGraphOptions, opset = DEFAULT_AUGMENT_OPSET): Uint8Array {
  const g = new GraphBuilder("sslmem_augment");
  const views = emitAugmentation(g, opts, opset);
  const { height: oh, width: ow } = opts.out;
  g.op1("Identity", [views], {}, "views");
  g.output("views", "float", opts.layout === "NHWC" ? ["views", oh, ow, 3] : ["views", 3, oh, ow]);
  return g.toModelBytes({ opset });
}

/**
 * torchvision adjust_hue (_rgb2hsv, h = (h + shift) mod 1, _hsv2rgb) on x [V,3,H,W]; shift
 * [V,1,1,1] — the same function in fewer, cheaper ops (it was half of the augmentation's time as
 * torchvision writes it: 15 sector Wheres and 40 single-channel ops; ORT's Where is the slowest
 * elementwise kernel). With cr = max − min of a pixel and c its first maximal channel (r, g, b
 * priority, as torchvision's masks):
 *   h6 = 2c + (x[c+1] − x[c−1])/cr           (torchvision's hr / hg / hb, 6·h before the mod)
 *   h6' = 6·frac(h6/6 + 1 + shift)            (its fmod(h + 1, 1), then (h + shift) mod 1, at once)
 *   out[k] = max − cr·clip(a[k] + s[k]·|h6' − m[k]|, 0, 1)
 * with m = (3, 2, 4), s = (−1, 1, 1), a = (2, −1, −1): the piecewise-linear form of _hsv2rgb's
 * six sectors (v = max, v·s = cr, p = v − cr, q = v − cr·f, t = v − cr·(1 − f)). Equal in exact
 * arithmetic; in float32 the two differ by a few ulps (test/engine/augment-graph.test.ts holds it
 * to the reference). A grey pixel (cr = 0) keeps its value exactly.
 */
function adjustHue(g: GraphBuilder, ops: OpsetOps, x: string, shift: string): string {
  const op = (type: string, inputs: string[], attrs = {}) => g.op1(type, inputs, attrs);
  const maxc = ops.reduce("ReduceMax", x, [1], 1);
  const cr = op("Sub", [maxc, ops.reduce("ReduceMin", x, [1], 1)]);
  // d = x[c+1] − x[c−1] of the maximal channel c: the channel planes rolled (block copies), their
  // difference, and one element gather. (A 1×1 Conv instead of the rolls is several times slower,
  // ORT reorders its layout; a Gather of per-pixel indices from a table is slow too.)
  const first = op("ArgMax", [x], { axis: 1, keepdims: 1, select_last_index: 0 });
  const roll = (order: number[]) => op("Gather", [x, g.constInt64(order)], { axis: 1 });
  const d = op("GatherElements", [op("Sub", [roll([1, 2, 0]), roll([2, 0, 1])]), first], { axis: 1 });
  // cr = 0 only where all channels are equal, where d = 0: any positive divisor gives h6 = 2c and
  // the output is max − 0 exactly; a tiny cr > 0 changes the output by at most cr.
  const h6raw = op("Add", [op("Mul", [op("Cast", [first], { to: elemTypeCode("float") }), g.constFloat(2)]), op("Div", [d, op("Max", [cr, g.constFloat(1e-30)])])]);
  // u ∈ (−1/6 + 1 + shift, 5/6 + 1 + shift) ⊂ (0, 3) for |shift| ≤ 1/2: frac is u − floor(u).
  const u = op("Add", [op("Div", [h6raw, g.constFloat(6)]), op("Add", [shift, g.constFloat(1)])]);
  const h6 = op("Mul", [op("Sub", [u, op("Floor", [u])]), g.constFloat(6)]);
  const dist = op("Abs", [op("Sub", [h6, g.constFloat([3, 2, 4], [1, 3, 1, 1])])]);
  const weight = op("Clip", [op("Add", [op("Mul", [dist, g.constFloat([-1, 1, 1], [1, 3, 1, 1])]), g.constFloat([2, -1, -1], [1, 3, 1, 1])]), g.constFloat(0), g.constFloat(1)]);
  return op("Sub", [maxc, op("Mul", [cr, weight])]);
}

function missingStage(stage: string): SslmemError {
  return new SslmemError("internal", `a view needs the ${stage} stage, which this augmentation graph was built without (views sampled from another policy?)`);
}

/** Checks an image's buffer against its size. */
function checkImage(image: RgbImage): void {
  const { height: H, width: W } = image;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1 || image.data.length !== H * W * 3) {
    throw new SslmemError("image_invalid", `image data must hold height×width×3 bytes (${H}×${W})`);
  }
}

/**
 * Writes the row-major band matrix [n,n] of a 1-D blur with reflect padding (out = M·in, or its
 * transpose) into a zeroed `into` at `offset`. A kernel of one tap is the identity.
 */
function blurMatrix(kernel: Float64Array, n: number, into: Float32Array, offset: number, transpose: boolean): void {
  const half = (kernel.length - 1) / 2;
  for (let o = 0; o < n; o++) {
    for (let t = 0; t < kernel.length; t++) {
      const i = reflectIndex(o + t - half, n);
      into[offset + (transpose ? i * n + o : o * n + i)] += kernel[t];
    }
  }
}

/**
 * Graph inputs for a batch: every source image with its views, packed (views in order: all of the
 * first image's, then the second's…).
 */
export function packAugmentInputs(opts: AugmentGraphOptions, batch: readonly SourceViews[]): Record<string, PackedInput> {
  const { stages, out } = opts;
  const { height: oh, width: ow } = out;
  for (const { image } of batch) checkImage(image);
  const S = batch.length;
  const V = batch.reduce((n, b) => n + b.views.length, 0);
  if (S === 0 || V === 0) throw new SslmemError("internal", "an augmentation batch needs at least one image and one view");
  const Hmax = Math.max(...batch.map((b) => b.image.height));
  const Wmax = Math.max(...batch.map((b) => b.image.width));

  const sources = new Uint8Array(S * Hmax * Wmax * 3);
  batch.forEach(({ image }, s) => {
    const rowBytes = image.width * 3;
    if (image.width === Wmax) sources.set(image.data, s * Hmax * Wmax * 3);
    else for (let y = 0; y < image.height; y++) sources.set(image.data.subarray(y * rowBytes, (y + 1) * rowBytes), (s * Hmax + y) * Wmax * 3);
  });

  const rowIndex = [new Int32Array(V * 3 * oh), new Int32Array(V * 3 * oh)];
  const rowWeight = new Float32Array(V * oh);
  const columns = new Float32Array(V * Wmax * ow);
  const nStages = blendStageCount(stages);
  const n = stages.jitter.length;
  // Blend parameters [stage][f, (1 − f)·α, (1 − f)·β][view]; identity (f = 1, 0, 0) by default.
  const blend = new Float32Array(nStages * 3 * V);
  for (let i = 0; i < nStages; i++) blend.fill(1, i * 3 * V, i * 3 * V + V);
  const hue = new Float32Array(V);
  const grayscale = new Float32Array(V);
  const k = stages.blurKernelSize;
  const blurH = k > 0 ? new Float32Array(V * ow * ow) : undefined;
  const blurV = k > 0 ? new Float32Array(V * oh * oh) : undefined;
  const solarize = new Float32Array(V).fill(2); // > 1: never triggers

  let v = 0;
  batch.forEach(({ image, views }, s) => {
    const { height: H, width: W } = image;
    for (const view of views) {
      const { crop } = view;
      const whole = [crop.top, crop.left, crop.height, crop.width].every(Number.isInteger);
      if (!whole || crop.top < 0 || crop.left < 0 || crop.height < 1 || crop.width < 1 || crop.top + crop.height > H || crop.left + crop.width > W) {
        throw new SslmemError("internal", "view crop lies outside the source image (views sampled for another image?)");
      }
      // Bilinear taps as the reference computes them: floor of the clamped source coordinate and
      // the next pixel (clamped to the image), weights 1 − frac and frac.
      const ys = sourceCoordinates(crop.top, crop.height, oh, false);
      for (let y = 0; y < oh; y++) {
        const y0 = Math.floor(ys[y]);
        const y1 = Math.min(y0 + 1, H - 1);
        const wy = ys[y] - y0;
        for (let c = 0; c < 3; c++) {
          rowIndex[0][(v * 3 + c) * oh + y] = (s * 3 + c) * Hmax + y0;
          rowIndex[1][(v * 3 + c) * oh + y] = (s * 3 + c) * Hmax + y1;
        }
        rowWeight[v * oh + y] = wy;
      }
      const xs = sourceCoordinates(crop.left, crop.width, ow, view.flip);
      const base = v * Wmax * ow;
      for (let x = 0; x < ow; x++) {
        const x0 = Math.floor(xs[x]);
        const x1 = Math.min(x0 + 1, W - 1);
        const wx = xs[x] - x0;
        columns[base + x0 * ow + x] += 1 - wx;
        columns[base + x1 * ow + x] += wx;
      }

      if (view.jitter) {
        const j = view.jitter;
        const factorOf = [j.brightness, j.contrast, j.saturation];
        // Stage index of the next cheap op: 0…n−1 before hue, n…2n−1 after it.
        let stage = 0;
        for (const op of j.order) {
          if (op === JITTER_HUE) {
            if (j.hue === 0) continue;
            if (!stages.hue) throw missingStage("hue");
            hue[v] = j.hue;
            stage = n;
            continue;
          }
          if (factorOf[op] === 1) continue;
          if (!stages.jitter.includes(op)) throw missingStage("colour-jitter");
          const at = (q: number) => (stage * 3 + q) * V + v;
          const f = Math.fround(factorOf[op]);
          const complement = Math.fround(1 - f); // as float32 1 − f in the graph
          blend[at(0)] = f;
          blend[at(1)] = op === JITTER_SATURATION ? complement : 0;
          blend[at(2)] = op === JITTER_CONTRAST ? complement : 0;
          stage++;
        }
      }
      if (view.grayscale) {
        if (!stages.grayscale) throw missingStage("grayscale");
        grayscale[v] = 1;
      }
      if (blurH && blurV) {
        let kernel: Float64Array = Float64Array.of(1);
        if (view.blur) {
          const size = view.blur.kernelSize;
          if (!Number.isInteger(size) || size % 2 !== 1) throw new SslmemError("internal", `blur kernel size must be odd, got ${size}`);
          if (size > k) throw missingStage(`blur (kernel ${size})`);
          kernel = gaussianKernel1d(size, view.blur.sigma);
        }
        // x·Bhᵀ blurs rows: Bh is stored transposed; Bv·x blurs columns.
        blurMatrix(kernel, ow, blurH, v * ow * ow, true);
        blurMatrix(kernel, oh, blurV, v * oh * oh, false);
      } else if (view.blur) throw missingStage("blur");
      if (view.solarize) {
        if (!stages.solarize) throw missingStage("solarize");
        solarize[v] = view.solarize.threshold;
      }
      v++;
    }
  });

  const inputs: Record<string, PackedInput> = {
    [AUGMENT_INPUTS.sources]: { type: "uint8", data: sources, dims: [S, Hmax, Wmax, 3] },
  };
  for (let i = 0; i < 2; i++) inputs[AUGMENT_INPUTS.rowIndex[i]] = { type: "int32", data: rowIndex[i], dims: [V, 3, oh] };
  inputs[AUGMENT_INPUTS.rowWeight] = { type: "float32", data: rowWeight, dims: [V, 1, oh, 1] };
  inputs[AUGMENT_INPUTS.columns] = { type: "float32", data: columns, dims: [V, 1, Wmax, ow] };
  if (nStages > 0) inputs.jitter = { type: "float32", data: blend, dims: [nStages, 3, V, 1, 1, 1] };
  if (stages.hue) inputs.hue = { type: "float32", data: hue, dims: [V, 1, 1, 1] };
  if (stages.grayscale) inputs.grayscale = { type: "float32", data: grayscale, dims: [V, 1, 1, 1] };
  if (blurH && blurV) {
    inputs.blur_h = { type: "float32", data: blurH, dims: [V, 1, ow, ow] };
    inputs.blur_v = { type: "float32", data: blurV, dims: [V, 1, oh, oh] };
  }
  if (stages.solarize) inputs.solarize = { type: "float32", data: solarize, dims: [V, 1, 1, 1] };
  return inputs;
}
