/**
 * The augmentation graph (DESIGN.md §2): one ONNX graph, built here in TypeScript, that turns a
 * batch of decoded source images and the host-sampled parameters of all their views into
 * encoder-ready tensors in one run. src/core/augment-reference.ts defines the pixels; this graph
 * computes the same thing.
 *
 *   sources uint8 [S,Hmax,Wmax,3] ─► rows: Gather + lerp ─► columns: MatMul ─► [V,3,oh·ow]
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
 *   the [V,3,oh·ow] layout with no transpose.
 * - Colour jitter applies a random permutation of four ops per view. Brightness, contrast and
 *   saturation are all one "blend stage": clip(M·x + m·mean(gray(x))) with a per-view [3,3]
 *   channel mix M = f·I + (1 − f)·α·1·wᵀ and m = (1 − f)·β, where (α, β) = (0, 0) brightness,
 *   (0, 1) contrast, (1, 0) saturation (torchvision's formulas up to float rounding), and M = I,
 *   m = 0 is the exact identity. The graph runs n blend stages, hue once, then n blend stages
 *   (n = number of cheap ops the policy uses); a view fills the stages before and after hue with
 *   its ops in its order, identities elsewhere. Grayscale is one more [3,3] mix (1·wᵀ, or I).
 *   Every view goes through hue, with a shift of 0 when it has none (its pixels back up to a few
 *   ulps): blending the hue in by a 0/1 weight, as an exact identity, cost three more passes over
 *   the views. Where policy, stage and pass counts made the difference, the augmentation is what
 *   an audit of a small encoder pays beyond the encoders (issue 9's throughput ratio): a pass over
 *   256 views of 64×64 is ~0.3 ms on the 2-core machine, hue ~8 ms of a 200 ms batch.
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
import { normalizationAffine } from "../core/normalization.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationOp, AugmentationPolicy } from "../core/policy.ts";
import { GRAY_WEIGHTS, gaussianKernel1d, reflectIndex, sourceCoordinate } from "../core/augment-reference.ts";
import { blurKernelSize, JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION, type Size, type ViewParams } from "../core/view-params.ts";
import { FRESH_ARRAYS, type PackingArrays } from "./array-pool.ts";
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
  /**
   * Runs the views go through the stages in (default 1; augmentRunCount chooses it): a batch's views
   * are split into this many consecutive runs of (nearly) equal size, each taken through every stage
   * before the next, then concatenated. A batch must hold at least this many views.
   */
  runs?: number;
}

/**
 * Float32 values of views one run of the stages should hold at most (3 MiB). Each stage is a pass
 * over all of a run's views; beyond the caches' size every pass goes to memory. On the 2-core
 * machine (2 threads, CPU arena, brief spinning; throwaway scripts, variants in one process): the
 * convnet's 256 views at 64×64 (12 MiB a pass) went through the augmentation graph alone in 45.6 ms as one run,
 * 38.2 / 33.4 / 35.1 ms as 2 / 4 / 8 runs, and its composed graph (both encoders) took 0.969 of
 * the time in 4 runs, median of 12 interleaved rounds; the fixture's 256 views at 32×32 (3 MiB):
 * 13.1 ms as one run, 12.4 / 13.8 / 14.8 ms as 2 / 4 / 8, composed 1.016 of the time in 2 runs;
 * ResNet-18's 64 views at 224×224 composed in 8 runs: 1.005 (6 rounds), no difference.
 */
export const RUN_VALUES = 3 * 2 ** 18;

/** Runs at most: every run repeats the graph's stages (~100 nodes). */
export const MAX_RUNS = 8;

/**
 * The runs (AugmentGraphOptions.runs) for batches of up to `maxViews` views of size `out`, never
 * more than `minViews`, the fewest views a batch holds (so that no run is empty).
 */
export function augmentRunCount(out: Size, maxViews: number, minViews: number): number {
  const wanted = Math.ceil((maxViews * 3 * out.height * out.width) / RUN_VALUES);
  return Math.max(1, Math.min(wanted, MAX_RUNS, Math.floor(minViews)));
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

/** The per-view graph inputs of a batch (or of one run of its views): value names. */
interface ViewInputs {
  rowIndex: readonly [string, string];
  rowWeight: string;
  columns: string;
  /** [stages,V,3,3] and [stages,V,1,1]: the views are on axis 1. */
  mix?: string;
  meanWeight?: string;
  hue?: string;
  grayscale?: string;
  blurH?: string;
  blurV?: string;
  solarize?: string;
}

/**
 * Emits the augmentation into `g` (declaring its inputs) and returns the name of the views value:
 * [V,3,oh,ow] for NCHW, [V,oh,ow,3] for NHWC, normalized for the encoder.
 *
 * With `runs` > 1 the views go through the stages in that many runs (AugmentGraphOptions,
 * RUN_VALUES), each run's every stage before the next run's: a run's values stay in the caches
 * from stage to stage. Every stage is per view, so the views are the same either way (a test).
 */
export function emitAugmentation(g: GraphBuilder, opts: AugmentGraphOptions, opset: number): string {
  const { stages, out } = opts;
  const { height: oh, width: ow } = out;
  const ops = new OpsetOps(g, opset);
  // Sources uint8 [S,Hmax,Wmax,3] → planes [S,3,Hmax,Wmax] → rows of one channel [S·3·Hmax, Wmax] in [0,1].
  const sources = g.input(AUGMENT_INPUTS.sources, "uint8", ["sources", "source_height", "source_width", 3]);
  const planes = g.op1("Transpose", [sources], { perm: [0, 3, 1, 2] });
  const rows = g.op1("Div", [g.op1("Cast", [g.op1("Flatten", [planes], { axis: 3 })], { to: elemTypeCode("float") }), g.constFloat(255)]);
  // Gather indices are int32: the host fills them without BigInt conversions.
  const nBlend = blendStageCount(stages);
  const inputs: ViewInputs = {
    rowIndex: [g.input(AUGMENT_INPUTS.rowIndex[0], "int32", ["views", 3, oh]), g.input(AUGMENT_INPUTS.rowIndex[1], "int32", ["views", 3, oh])],
    rowWeight: g.input(AUGMENT_INPUTS.rowWeight, "float", ["views", 1, oh, 1]),
    columns: g.input(AUGMENT_INPUTS.columns, "float", ["views", "source_width", ow]),
    ...(nBlend > 0 ? { mix: g.input("jitter_mix", "float", [nBlend, "views", 3, 3]) } : {}),
    ...(nBlend > 0 && stages.jitter.includes(JITTER_CONTRAST) ? { meanWeight: g.input("jitter_mean", "float", [nBlend, "views", 1, 1]) } : {}),
    ...(stages.hue ? { hue: g.input("hue", "float", ["views", 1, 1]) } : {}),
    ...(stages.grayscale ? { grayscale: g.input("grayscale", "float", ["views", 3, 3]) } : {}),
    ...(stages.blurKernelSize > 0 ? { blurH: g.input("blur_h", "float", ["views", ow, ow]), blurV: g.input("blur_v", "float", ["views", 1, oh, oh]) } : {}),
    ...(stages.solarize ? { solarize: g.input("solarize", "float", ["views", 1, 1]) } : {}),
  };
  const runs = opts.runs ?? 1;
  if (runs <= 1) return augmentViews(g, ops, opts, rows, inputs);
  // Run c holds views [⌊c·V/n⌋, ⌊(c+1)·V/n⌋): none is empty while V ≥ n.
  const views = g.op1("Slice", [g.op1("Shape", [inputs.rowWeight]), g.constInt64([0]), g.constInt64([1]), g.constInt64([0])]);
  const bound = (c: number) => (c === 0 ? g.constInt64([0]) : c === runs ? views : g.op1("Div", [g.op1("Mul", [views, g.constInt64([c])]), g.constInt64([runs])]));
  const parts: string[] = [];
  for (let c = 0; c < runs; c++) {
    const [from, to] = [bound(c), bound(c + 1)];
    const slice = (value: string, axis: 0 | 1) => g.op1("Slice", [value, from, to, g.constInt64([axis])]);
    parts.push(augmentViews(g, ops, opts, rows, mapViewInputs(inputs, slice)));
  }
  return g.op1("Concat", parts, { axis: 0 });
}

/** `inputs` with `f(value, its views' axis)` for every value. */
function mapViewInputs(inputs: ViewInputs, f: (value: string, axis: 0 | 1) => string): ViewInputs {
  const opt = (value: string | undefined, axis: 0 | 1) => (value === undefined ? undefined : f(value, axis));
  return {
    rowIndex: [f(inputs.rowIndex[0], 0), f(inputs.rowIndex[1], 0)],
    rowWeight: f(inputs.rowWeight, 0),
    columns: f(inputs.columns, 0),
    // [stages,V,…]: the views are on axis 1.
    mix: opt(inputs.mix, 1),
    meanWeight: opt(inputs.meanWeight, 1),
    hue: opt(inputs.hue, 0),
    grayscale: opt(inputs.grayscale, 0),
    blurH: opt(inputs.blurH, 0),
    blurV: opt(inputs.blurV, 0),
    solarize: opt(inputs.solarize, 0),
  };
}

/** The stages on the views of `inputs` (all of a batch's, or one run of them). */
function augmentViews(g: GraphBuilder, ops: OpsetOps, opts: AugmentGraphOptions, rows: string, inputs: ViewInputs): string {
  const { stages, out, layout } = opts;
  const { height: oh, width: ow } = out;
  // Constants are created on first use (GraphBuilder deduplicates them), so no stage leaves
  // unused initializers behind.
  const zero = () => g.constFloat(0);
  const one = () => g.constFloat(1);
  const clip01 = (t: string) => g.op1("Clip", [t, zero(), one()]);
  const shape = (dims: number[]) => g.constInt64(dims);

  // Rows: view v's output row y of channel c blends source rows row_index0/1[v,c,y] ((s·3 + c)·Hmax + y)
  // as r0 + w·(r1 − r0): one multiplication by the per-row weight (ORT's broadcasting Mul over rows
  // is three times slower per element than a plain Sub or Add; the crop and resize was a fifth of
  // the augmentation at 64×64).
  const [r0, r1] = inputs.rowIndex.map((index) => g.op1("Gather", [rows, index], { axis: 0 }));
  const byRow = g.op1("Add", [r0, g.op1("Mul", [g.op1("Sub", [r1, r0]), inputs.rowWeight])]); // [V,3,oh,Wmax]
  // Columns: a per-view [Wmax, ow] matrix with the two column weights of each output column, one
  // [3·oh, Wmax]×[Wmax, ow] product per view (the three channels' rows stacked: fewer, larger
  // products than one per channel).
  // From here on a view is [3, oh·ow] (the colour stages mix channels with [3,3] products).
  let x = g.op1("Reshape", [g.op1("MatMul", [g.op1("Reshape", [byRow, shape([0, 3 * oh, -1])]), inputs.columns]), shape([0, 3, oh * ow])]);

  // Colour jitter's cheap ops, grayscale and hue's channel differences are per-view [3,3]
  // matrices applied to the view's [3, oh·ow] pixels: one batched MatMul per stage, in place of the
  // grey-channel product, broadcasting multiplies and adds of each (a blend stage took a quarter
  // less time so at 64×64; the identity matrix is exact: 1·x + 0·y + 0·z = x).
  // Blend stages (see the file comment). `jitter_mix` [stages,V,3,3]: f·I + (1 − f)·α·1·wᵀ;
  // `jitter_mean` [stages,V,1,1]: (1 − f)·β, the weight of mean(gray(x)).
  const usesMean = inputs.meanWeight !== undefined;
  const mix = inputs.mix ?? "";
  const meanWeight = inputs.meanWeight ?? "";
  const stage = (input: string, i: number) => g.op1("Gather", [input, g.constInt64(i, [])], { axis: 0 });
  let nextStage = 0;
  const blendStages = (t: string, count: number) => {
    for (let k = 0; k < count; k++) {
      const i = nextStage++;
      let y = g.op1("MatMul", [stage(mix, i), t]);
      if (usesMean) {
        // mean(gray(x)) = Σ_c w_c·mean(x_c), [V,1,1].
        const meanGray = g.op1("MatMul", [g.constFloat(GRAY_WEIGHTS, [1, 3]), ops.reduce("ReduceMean", t, [2], 1)]);
        y = g.op1("Add", [y, g.op1("Mul", [meanGray, stage(meanWeight, i)])]);
      }
      t = clip01(y);
    }
    return t;
  };

  x = blendStages(x, stages.jitter.length);
  if (inputs.hue) {
    // Every view goes through hue; a view without it has a shift of 0, which returns its pixels
    // up to rounding (h6 → 6·frac(h6/6 + 1) moves h6 by a few ulps; a grey pixel is kept exactly).
    x = adjustHue(g, ops, x, inputs.hue);
    x = blendStages(x, stages.jitter.length);
  }
  if (inputs.grayscale) {
    // gray(x) in every channel: the matrix 1·wᵀ, or the identity (exact) for a view without it.
    x = g.op1("MatMul", [inputs.grayscale, x]);
  }
  if (inputs.blurH && inputs.blurV) {
    // Rows first, then columns, as the reference: x·Bhᵀ (the three channels' rows stacked) then Bv·x, per view.
    const [bh, bv] = [inputs.blurH, inputs.blurV];
    const blurredRows = g.op1("MatMul", [g.op1("Reshape", [x, shape([0, 3 * oh, ow])]), bh]);
    x = g.op1("Reshape", [g.op1("MatMul", [bv, g.op1("Reshape", [blurredRows, shape([0, 3, oh, ow])])]), shape([0, 3, oh * ow])]);
  }
  if (inputs.solarize) {
    const threshold = inputs.solarize;
    x = g.op1("Where", [g.op1("GreaterOrEqual", [x, threshold]), g.op1("Sub", [one(), x]), x]);
  }

  // out = lo + (hi − lo)·(x − mean)/std = x·a + b, per channel.
  const { scale: a, offset: b } = normalizationAffine(opts);
  if (a.some((v) => v !== 1) || b.some((v) => v !== 0)) {
    x = g.op1("Add", [g.op1("Mul", [x, g.constFloat(a, [1, 3, 1])]), g.constFloat(b, [1, 3, 1])]);
  }
  x = g.op1("Reshape", [x, shape([0, 3, oh, ow])]);
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
 * torchvision adjust_hue (_rgb2hsv, h = (h + shift) mod 1, _hsv2rgb) on x [V,3,N]; shift
 * [V,1,1] — the same function in fewer, cheaper ops (it was half of the augmentation's time as
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
  // c and d = x[c+1] − x[c−1] from comparisons on the channel planes, as 0/1 floats: with
  // notR = [r < max] and notG = [g < max], c = notR·(1 + notG) and d = D0 + notR·(D1 − D0 +
  // notG·(D2 − D1)) for Dk = x[k+1] − x[k−1] — exactly D0 where r is maximal, D1 or D2 up to
  // rounding elsewhere. (ArgMax over the channels and a GatherElements of d took a third of the
  // hue's time at 64×64; rolling the planes for the differences, or a 1×1 Conv, more.)
  const [r, gr, b] = ops.split(x, 1, 3);
  const below = (plane: string) => op("Cast", [op("Less", [plane, maxc])], { to: elemTypeCode("float") });
  const [notR, notG] = [below(r), below(gr)];
  const [d0, d1, d2] = [op("Sub", [gr, b]), op("Sub", [b, r]), op("Sub", [r, gr])];
  const d = op("Add", [d0, op("Mul", [notR, op("Add", [op("Sub", [d1, d0]), op("Mul", [notG, op("Sub", [d2, d1])])])])]);
  const twoC = op("Mul", [op("Mul", [notR, op("Add", [notG, g.constFloat(1)])]), g.constFloat(2)]);
  // cr = 0 only where all channels are equal, where d = 0: any positive divisor gives h6 = 2c and
  // the output is max − 0 exactly; a tiny cr > 0 changes the output by at most cr.
  const h6raw = op("Add", [twoC, op("Div", [d, op("Max", [cr, g.constFloat(1e-30)])])]);
  // u ∈ (−1/6 + 1 + shift, 5/6 + 1 + shift) ⊂ (0, 3) for |shift| ≤ 1/2: frac is u − floor(u).
  const u = op("Add", [op("Div", [h6raw, g.constFloat(6)]), op("Add", [shift, g.constFloat(1)])]);
  const h6 = op("Mul", [op("Sub", [u, op("Floor", [u])]), g.constFloat(6)]);
  const dist = op("Abs", [op("Sub", [h6, g.constFloat([3, 2, 4], [1, 3, 1])])]);
  const weight = op("Clip", [op("Add", [op("Mul", [dist, g.constFloat([-1, 1, 1], [1, 3, 1])]), g.constFloat([2, -1, -1], [1, 3, 1])]), g.constFloat(0), g.constFloat(1)]);
  return op("Sub", [maxc, op("Mul", [cr, weight])]);
}

/** Writes the [3,3] identity at `offset`. */
function setIdentity(into: Float32Array, offset: number): void {
  into[offset] = into[offset + 4] = into[offset + 8] = 1;
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
 * A batch's sources, packed into one uint8 [S,Hmax,Wmax,3] array (zero padding that no view
 * reads), with its counts; refuses an empty batch or a malformed image.
 */
export function packSources(batch: readonly SourceViews[], arrays: PackingArrays): { data: Uint8Array; S: number; V: number; Hmax: number; Wmax: number } {
  for (const { image } of batch) checkImage(image);
  const S = batch.length;
  const V = batch.reduce((n, b) => n + b.views.length, 0);
  if (S === 0 || V === 0) throw new SslmemError("internal", "an augmentation batch needs at least one image and one view");
  const Hmax = Math.max(...batch.map((b) => b.image.height));
  const Wmax = Math.max(...batch.map((b) => b.image.width));
  const data = arrays.uint8(S * Hmax * Wmax * 3);
  batch.forEach(({ image }, s) => {
    const rowBytes = image.width * 3;
    if (image.width === Wmax) data.set(image.data, s * Hmax * Wmax * 3);
    else for (let y = 0; y < image.height; y++) data.set(image.data.subarray(y * rowBytes, (y + 1) * rowBytes), (s * Hmax + y) * Wmax * 3);
  });
  return { data, S, V, Hmax, Wmax };
}

/** Refuses a view whose crop is not whole pixels inside `image`. */
export function checkCrop(view: ViewParams, image: RgbImage): void {
  const { crop } = view;
  const whole = Number.isInteger(crop.top) && Number.isInteger(crop.left) && Number.isInteger(crop.height) && Number.isInteger(crop.width);
  if (!whole || crop.top < 0 || crop.left < 0 || crop.height < 1 || crop.width < 1 || crop.top + crop.height > image.height || crop.left + crop.width > image.width) {
    throw new SslmemError("internal", "view crop lies outside the source image (views sampled for another image?)");
  }
}

/** The kernel of a view without blur: its blur matrices are the identity. */
const NO_BLUR: Float64Array = Float64Array.of(1);

/**
 * Writes the row-major band matrix [n,n] of a 1-D blur with reflect padding (out = M·in, or its
 * transpose) into `into` at `offset`, all n·n elements. A kernel of one tap is the identity.
 */
function blurMatrix(kernel: Float64Array, n: number, into: Float32Array, offset: number, transpose: boolean): void {
  into.fill(0, offset, offset + n * n);
  const k = kernel.length;
  const half = (k - 1) / 2;
  for (let o = 0; o < n; o++) {
    const first = o - half;
    // Away from the edges every tap reads inside the image: no reflection to compute.
    const inside = first >= 0 && first + k <= n;
    for (let t = 0; t < k; t++) {
      const i = inside ? first + t : reflectIndex(first + t, n);
      into[offset + (transpose ? i * n + o : o * n + i)] += kernel[t];
    }
  }
}

/**
 * Graph inputs for a batch: every source image with its views, packed (views in order: all of the
 * first image's, then the second's…), into arrays from `arrays` (a pool: array-pool.ts).
 */
export function packAugmentInputs(opts: AugmentGraphOptions, batch: readonly SourceViews[], arrays: PackingArrays = FRESH_ARRAYS): Record<string, PackedInput> {
  const { stages, out } = opts;
  const { height: oh, width: ow } = out;
  const { data: sources, S, V, Hmax, Wmax } = packSources(batch, arrays);

  // Row taps: every element is written below. The column and blur matrices are zeroed a view's
  // block at a time, just before the block's taps are written (array-pool.ts, ArrayContents).
  const rowIndex = [arrays.int32(V * 3 * oh, "overwritten"), arrays.int32(V * 3 * oh, "overwritten")];
  const rowWeight = arrays.float32(V * oh, "overwritten");
  const columnBlock = Wmax * ow;
  const columns = arrays.float32(V * columnBlock, "overwritten");
  const nStages = blendStageCount(stages);
  const n = stages.jitter.length;
  // Blend stages: [stage][view] a [3,3] channel mix (the identity by default) and the weight of
  // mean(gray(x)) (0 by default).
  const mix = arrays.float32(nStages * V * 9);
  for (let i = 0; i < nStages * V; i++) setIdentity(mix, i * 9);
  const meanWeight = arrays.float32(nStages * V);
  // A stage the graph lacks gets an empty array: no view writes it (it is refused first).
  const hue = arrays.float32(stages.hue ? V : 0);
  const grayscale = arrays.float32(stages.grayscale ? V * 9 : 0);
  if (stages.grayscale) for (let i = 0; i < V; i++) setIdentity(grayscale, i * 9);
  const k = stages.blurKernelSize;
  const blurH = k > 0 ? arrays.float32(V * ow * ow, "overwritten") : undefined;
  const blurV = k > 0 ? arrays.float32(V * oh * oh, "overwritten") : undefined;
  const solarize = arrays.float32(stages.solarize ? V : 0).fill(2); // > 1: never triggers

  let v = 0;
  batch.forEach(({ image, views }, s) => {
    const { height: H, width: W } = image;
    for (const view of views) {
      const { crop } = view;
      checkCrop(view, image);
      // Bilinear taps as the reference computes them: floor of the clamped source coordinate and
      // the next pixel (clamped to the image), weights 1 − frac and frac.
      // (One coordinate at a time: the arrays of sourceCoordinates, two a view, were most of the
      // packing's garbage.)
      for (let y = 0; y < oh; y++) {
        const sy = sourceCoordinate(crop.top, crop.height, oh, false, y);
        const y0 = Math.floor(sy);
        const y1 = Math.min(y0 + 1, H - 1);
        const wy = sy - y0;
        for (let c = 0; c < 3; c++) {
          rowIndex[0][(v * 3 + c) * oh + y] = (s * 3 + c) * Hmax + y0;
          rowIndex[1][(v * 3 + c) * oh + y] = (s * 3 + c) * Hmax + y1;
        }
        rowWeight[v * oh + y] = wy;
      }
      const base = v * columnBlock;
      columns.fill(0, base, base + columnBlock);
      for (let x = 0; x < ow; x++) {
        const sx = sourceCoordinate(crop.left, crop.width, ow, view.flip, x);
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, W - 1);
        const wx = sx - x0;
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
          // clip(f·x + (1 − f)·α·gray(x) + (1 − f)·β·mean(gray(x))): α = 1 saturation, β = 1 contrast.
          const f = Math.fround(factorOf[op]);
          const complement = Math.fround(1 - f);
          const at = (stage * V + v) * 9;
          for (let r = 0; r < 3; r++) {
            for (let c = 0; c < 3; c++) mix[at + r * 3 + c] = (r === c ? f : 0) + (op === JITTER_SATURATION ? complement * GRAY_WEIGHTS[c] : 0);
          }
          if (op === JITTER_CONTRAST) meanWeight[stage * V + v] = complement;
          stage++;
        }
      }
      if (view.grayscale) {
        if (!stages.grayscale) throw missingStage("grayscale");
        for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) grayscale[v * 9 + r * 3 + c] = GRAY_WEIGHTS[c];
      }
      if (blurH && blurV) {
        let kernel = NO_BLUR;
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
  inputs[AUGMENT_INPUTS.columns] = { type: "float32", data: columns, dims: [V, Wmax, ow] };
  if (nStages > 0) {
    inputs.jitter_mix = { type: "float32", data: mix, dims: [nStages, V, 3, 3] };
    if (stages.jitter.includes(JITTER_CONTRAST)) inputs.jitter_mean = { type: "float32", data: meanWeight, dims: [nStages, V, 1, 1] };
  }
  if (stages.hue) inputs.hue = { type: "float32", data: hue, dims: [V, 1, 1] };
  if (stages.grayscale) inputs.grayscale = { type: "float32", data: grayscale, dims: [V, 3, 3] };
  if (blurH && blurV) {
    inputs.blur_h = { type: "float32", data: blurH, dims: [V, ow, ow] };
    inputs.blur_v = { type: "float32", data: blurV, dims: [V, 1, oh, oh] };
  }
  if (stages.solarize) inputs.solarize = { type: "float32", data: solarize, dims: [V, 1, 1] };
  return inputs;
}
