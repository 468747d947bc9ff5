/**
 * The augmentation graph (DESIGN.md §2): one ONNX graph, built here in TypeScript, that turns one
 * decoded source image and the host-sampled parameters of V views into encoder-ready tensors.
 * src/core/augment-reference.ts defines the pixels; this graph computes the same thing.
 *
 *   image uint8 [1,H,W,3] ─► float [1,3,H,W] ─► per view: Slice (crop, flip) + Resize ─► concat
 *   ─► colour jitter ─► grayscale ─► blur ─► solarize ─► out = lo + (hi − lo)·(x − mean)/std
 *   ─► views [V,3,outH,outW] (NCHW) or [V,outH,outW,3] (NHWC)
 *
 * Design choices (why):
 * - Crop and resize are a Slice of the crop box and a bilinear half-pixel Resize per view: exactly
 *   torchvision's resized_crop (antialias off), and ~3× faster on CPU than one GridSample of all
 *   views. A flipped view slices its columns in reverse (half-pixel resizing commutes with
 *   mirroring). The source is never copied per view.
 * - Colour jitter applies a random permutation of four ops per view. Brightness, contrast and
 *   saturation are all one "blend stage": clip(f·x + (1 − f)·(α·gray(x) + β·mean(gray(x)))), with
 *   (α, β) = (0, 0) brightness, (0, 1) contrast, (1, 0) saturation — products by exact 0 and 1,
 *   so each computes exactly torchvision's formula, and f = 1 is the exact identity. The graph runs
 *   n blend stages, hue once, then n blend stages (n = number of cheap ops the policy uses); a
 *   view fills the stages before and after hue with its ops in its order, identities elsewhere.
 *   That costs 2n blend stages + 1 hue, against 4·(3 cheap ops + hue) for the obvious "evaluate all
 *   four ops at each of four positions and select". Hue uses Where(shift = 0) so an unused hue is
 *   exactly the identity too.
 * - Blur is a depthwise Conv with per-view kernels (views folded into channels, group = 3V), so V
 *   is fixed per graph. Kernels smaller than the graph's size are zero-padded (exact); a view
 *   without blur gets the unit impulse (exact).
 * - Stages the policy never uses are not built, so the 'none' and 'mae' presets cost a Slice and a
 *   Resize per view and a normalization.
 */
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationOp, AugmentationPolicy } from "../core/policy.ts";
import { GRAY_WEIGHTS, gaussianKernel1d } from "../core/augment-reference.ts";
import { blurKernelSize, JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION, type Size, type ViewParams } from "../core/view-params.ts";
import { elemTypeCode, GraphBuilder } from "./onnx/builder.ts";

export type Layout = "NCHW" | "NHWC";
type Rgb = readonly [number, number, number];

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
  /** Views per run (fixed: the blur Conv's group count depends on it). */
  views: number;
  out: Size;
  layout: Layout;
  /** Per-channel mean and std on the [0,1] scale, and the encoder's value range [lo, hi]. */
  mean: Rgb;
  std: Rgb;
  range: readonly [number, number];
}

/** A graph input ready for an ORT tensor. */
export interface PackedInput {
  type: "float32" | "uint8" | "bool" | "int64";
  data: Float32Array | Uint8Array | BigInt64Array;
  dims: number[];
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

/** Builds the ONNX model (opset 17). Input and output names are fixed. */
export function buildAugmentGraph(opts: AugmentGraphOptions): Uint8Array {
  const { stages, views: V, out, layout } = opts;
  const { height: oh, width: ow } = out;
  const g = new GraphBuilder("sslmem_augment");
  // Constants are created on first use (GraphBuilder deduplicates them), so no stage leaves
  // unused initializers behind.
  const one = () => g.constFloat(1);
  const zero = () => g.constFloat(0);
  const clip01 = (t: string) => g.op1("Clip", [t, zero(), one()]);

  // Source: uint8 NHWC → float NCHW in [0,1]. Transposing uint8 moves 4× fewer bytes.
  const image = g.input("image", "uint8", [1, "height", "width", 3]);
  const chw = g.op1("Transpose", [image], { perm: [0, 3, 1, 2] });
  const src = g.op1("Div", [g.op1("Cast", [chw], { to: elemTypeCode("float") }), g.constFloat(255)]);

  // Crop (+ flip, as a reversed slice) then bilinear resize, per view; the views are concatenated.
  const sliceStarts = g.input("crop_starts", "int64", [V, 2]);
  const sliceEnds = g.input("crop_ends", "int64", [V, 2]);
  const sliceSteps = g.input("crop_steps", "int64", [V, 2]);
  const sizes = g.constInt64([1, 3, oh, ow]);
  const perView: string[] = [];
  for (let v = 0; v < V; v++) {
    const row = (t: string) => g.op1("Gather", [t, g.constInt64(v, [])], { axis: 0 });
    const crop = g.op1("Slice", [src, row(sliceStarts), row(sliceEnds), g.constInt64([2, 3]), row(sliceSteps)]);
    perView.push(g.op1("Resize", [crop, "", "", sizes], { mode: "linear", coordinate_transformation_mode: "half_pixel" }));
  }
  let x = V === 1 ? perView[0] : g.op1("Concat", perView, { axis: 0 });

  const gray = (t: string) => g.op1("ReduceSum", [g.op1("Mul", [t, g.constFloat(GRAY_WEIGHTS, [1, 3, 1, 1])]), g.constInt64([1])], { keepdims: 1 });

  // Blend stages (see the file comment). Input `jitter` [stages, 3, V,1,1,1]: factor f, α, β.
  const usesGray = stages.jitter.includes(JITTER_SATURATION);
  const usesMean = stages.jitter.includes(JITTER_CONTRAST);
  const blendParams = blendStageCount(stages) > 0 ? g.input("jitter", "float", [blendStageCount(stages), 3, V, 1, 1, 1]) : "";
  let nextStage = 0;
  const blendStages = (t: string, count: number) => {
    for (let i = 0; i < count; i++) {
      const params = g.op1("Gather", [blendParams, g.constInt64(nextStage++, [])], { axis: 0 });
      const param = (k: number) => g.op1("Gather", [params, g.constInt64(k, [])], { axis: 0 });
      const f = param(0);
      let blended = g.op1("Mul", [t, f]);
      if (usesGray || usesMean) {
        const grayT = gray(t);
        const terms: string[] = [];
        if (usesGray) terms.push(g.op1("Mul", [grayT, param(1)]));
        if (usesMean) terms.push(g.op1("Mul", [g.op1("ReduceMean", [grayT], { axes: [1, 2, 3], keepdims: 1 }), param(2)]));
        const target = terms.length === 2 ? g.op1("Add", terms) : terms[0];
        blended = g.op1("Add", [blended, g.op1("Mul", [target, g.op1("Sub", [one(), f])])]);
      }
      t = clip01(blended);
    }
    return t;
  };

  x = blendStages(x, stages.jitter.length);
  if (stages.hue) {
    const shift = g.input("hue", "float", [V, 1, 1, 1]);
    x = g.op1("Where", [g.op1("Equal", [shift, zero()]), x, adjustHue(g, x, shift)]);
    x = blendStages(x, stages.jitter.length);
  }
  if (stages.grayscale) {
    const flag = g.input("grayscale", "bool", [V, 1, 1, 1]);
    x = g.op1("Where", [flag, gray(x), x]);
  }
  if (stages.blurKernelSize > 0) {
    const k = stages.blurKernelSize;
    const r = (k - 1) / 2;
    const kh = g.input("blur_h", "float", [3 * V, 1, 1, k]);
    const kv = g.input("blur_v", "float", [3 * V, 1, k, 1]);
    let y = g.op1("Reshape", [x, g.constInt64([1, 3 * V, oh, ow])]);
    y = g.op1("Pad", [y, g.constInt64([0, 0, r, r, 0, 0, r, r])], { mode: "reflect" });
    y = g.op1("Conv", [y, kh], { group: 3 * V, kernel_shape: [1, k] });
    y = g.op1("Conv", [y, kv], { group: 3 * V, kernel_shape: [k, 1] });
    x = g.op1("Reshape", [y, g.constInt64([V, 3, oh, ow])]);
  }
  if (stages.solarize) {
    const threshold = g.input("solarize", "float", [V, 1, 1, 1]);
    x = g.op1("Where", [g.op1("GreaterOrEqual", [x, threshold]), g.op1("Sub", [one(), x]), x]);
  }

  // out = lo + (hi − lo)·(x − mean)/std = x·a + b, per channel.
  const [lo, hi] = opts.range;
  const a = opts.std.map((s) => (hi - lo) / s);
  const b = opts.mean.map((m, c) => lo - (hi - lo) * (m / opts.std[c]));
  if (a.some((v) => v !== 1) || b.some((v) => v !== 0)) {
    x = g.op1("Add", [g.op1("Mul", [x, g.constFloat(a, [1, 3, 1, 1])]), g.constFloat(b, [1, 3, 1, 1])]);
  }
  if (layout === "NHWC") {
    g.op1("Transpose", [x], { perm: [0, 2, 3, 1] }, "views");
    g.output("views", "float", [V, oh, ow, 3]);
  } else {
    g.op1("Identity", [x], {}, "views");
    g.output("views", "float", [V, 3, oh, ow]);
  }
  return g.toModelBytes({ opset: 17 });
}

/** torchvision adjust_hue (_rgb2hsv, shift mod 1, _hsv2rgb) on x [V,3,H,W]; shift [V,1,1,1]. */
function adjustHue(g: GraphBuilder, x: string, shift: string): string {
  const c = (v: number) => g.constFloat(v);
  const op = (type: string, inputs: string[], attrs = {}) => g.op1(type, inputs, attrs);
  const [r, gr, b] = g.op("Split", [x], { axis: 1 }, 3);
  const maxc = op("ReduceMax", [x], { axes: [1], keepdims: 1 });
  const minc = op("ReduceMin", [x], { axes: [1], keepdims: 1 });
  const eqc = op("Equal", [maxc, minc]);
  const cr = op("Sub", [maxc, minc]);
  const s = op("Div", [cr, op("Where", [eqc, c(1), maxc])]);
  const crDivisor = op("Where", [eqc, c(1), cr]);
  const rc = op("Div", [op("Sub", [maxc, r]), crDivisor]);
  const gc = op("Div", [op("Sub", [maxc, gr]), crDivisor]);
  const bc = op("Div", [op("Sub", [maxc, b]), crDivisor]);
  const hr = op("Sub", [bc, gc]);
  const hg = op("Sub", [op("Add", [c(2), rc]), bc]);
  const hb = op("Sub", [op("Add", [c(4), gc]), rc]);
  // torchvision sums the three masked terms; exactly one is unmasked, so a Where chain is equal.
  let h = op("Where", [op("Equal", [maxc, r]), hr, op("Where", [op("Equal", [maxc, gr]), hg, hb])]);
  // fmod(h/6 + 1, 1), then torch's remainder (h + shift) mod 1 ∈ [0, 1). Both as u − floor(u): the
  // arguments lie in (−1, 2), where that subtraction is exact and equals fmod/remainder
  // (std::fmod is several times slower than Floor + Sub in ONNX Runtime).
  const frac = (u: string) => op("Sub", [u, op("Floor", [u])]);
  h = frac(op("Add", [op("Div", [h, c(6)]), c(1)]));
  h = frac(op("Add", [h, shift]));

  const v = maxc;
  const h6 = op("Mul", [h, c(6)]);
  const i6 = op("Floor", [h6]);
  const f = op("Sub", [h6, i6]);
  const clip = (t: string) => op("Clip", [t, c(0), c(1)]);
  const p = clip(op("Mul", [v, op("Sub", [c(1), s])]));
  const q = clip(op("Mul", [v, op("Sub", [c(1), op("Mul", [s, f])])]));
  const t = clip(op("Mul", [v, op("Sub", [c(1), op("Mul", [s, op("Sub", [c(1), f])])])]));
  // Sector i6 mod 6: i6 ∈ {0..6} (6 only for h = 1), so sector 0 is the default of the chain.
  const isSector = [1, 2, 3, 4, 5].map((k) => op("Equal", [i6, c(k)]));
  const select = (vals: string[]) => {
    let acc = vals[0];
    for (let k = 5; k >= 1; k--) acc = op("Where", [isSector[k - 1], vals[k], acc]);
    return acc;
  };
  return op(
    "Concat",
    [select([v, q, p, p, t, v]), select([t, v, v, q, p, p]), select([p, p, t, v, v, q])],
    { axis: 1 },
  );
}

function missingStage(stage: string): SslmemError {
  return new SslmemError("internal", `a view needs the ${stage} stage, which this augmentation graph was built without (views sampled from another policy?)`);
}

/** Graph inputs for one source image and its views. */
export function packViewInputs(opts: AugmentGraphOptions, image: RgbImage, views: readonly ViewParams[]): Record<string, PackedInput> {
  const { stages, views: V, out } = opts;
  const { height: oh, width: ow } = out;
  const { height: H, width: W } = image;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1 || image.data.length !== H * W * 3) {
    throw new SslmemError("image_invalid", `image data must hold height×width×3 bytes (${H}×${W})`);
  }
  if (views.length !== V) throw new SslmemError("internal", `augmentation graph built for ${V} views, got ${views.length}`);

  const starts = new BigInt64Array(2 * V);
  const ends = new BigInt64Array(2 * V);
  const steps = new BigInt64Array(2 * V);
  const nStages = blendStageCount(stages);
  const n = stages.jitter.length;
  // Blend parameters [stage][f, α, β][view]; identity (f = 1, α = β = 0) by default.
  const blend = new Float32Array(nStages * 3 * V);
  for (let i = 0; i < nStages; i++) blend.fill(1, i * 3 * V, i * 3 * V + V);
  const hue = new Float32Array(V);
  const grayscale = new Uint8Array(V);
  const k = stages.blurKernelSize;
  const blur = new Float32Array(3 * V * k);
  const solarize = new Float32Array(V).fill(2); // > 1: never triggers

  views.forEach((view, v) => {
    const { crop } = view;
    const whole = [crop.top, crop.left, crop.height, crop.width].every(Number.isInteger);
    if (!whole || crop.top < 0 || crop.left < 0 || crop.height < 1 || crop.width < 1 || crop.top + crop.height > H || crop.left + crop.width > W) {
      throw new SslmemError("internal", "view crop lies outside the source image (views sampled for another image?)");
    }
    // Rows [top, top + height); columns [left, left + width), reversed when flipped: bilinear
    // half-pixel resizing commutes with mirroring, so mirroring the crop mirrors the view.
    // A reversed slice runs from right − 1 down to left; its end, left − 1, is written as
    // left − 1 − W so that left = 0 does not read as the index −1 (= W − 1).
    starts.set([BigInt(crop.top), BigInt(view.flip ? crop.left + crop.width - 1 : crop.left)], 2 * v);
    ends.set([BigInt(crop.top + crop.height), BigInt(view.flip ? crop.left - 1 - W : crop.left + crop.width)], 2 * v);
    steps.set([1n, view.flip ? -1n : 1n], 2 * v);

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
        const at = (k: number) => (stage * 3 + k) * V + v;
        blend[at(0)] = factorOf[op];
        blend[at(1)] = op === JITTER_SATURATION ? 1 : 0;
        blend[at(2)] = op === JITTER_CONTRAST ? 1 : 0;
        stage++;
      }
    }
    if (view.grayscale) {
      if (!stages.grayscale) throw missingStage("grayscale");
      grayscale[v] = 1;
    }
    if (k > 0) {
      const kernel = new Float64Array(k);
      if (view.blur) {
        const size = view.blur.kernelSize;
        if (!Number.isInteger(size) || size % 2 !== 1) throw new SslmemError("internal", `blur kernel size must be odd, got ${size}`);
        if (size > k) throw missingStage(`blur (kernel ${size})`);
        kernel.set(gaussianKernel1d(size, view.blur.sigma), (k - size) / 2);
      } else kernel[(k - 1) / 2] = 1;
      for (let ch = 0; ch < 3; ch++) blur.set(kernel, (3 * v + ch) * k);
    } else if (view.blur) throw missingStage("blur");
    if (view.solarize) {
      if (!stages.solarize) throw missingStage("solarize");
      solarize[v] = view.solarize.threshold;
    }
  });

  const inputs: Record<string, PackedInput> = {
    image: { type: "uint8", data: image.data, dims: [1, H, W, 3] },
    crop_starts: { type: "int64", data: starts, dims: [V, 2] },
    crop_ends: { type: "int64", data: ends, dims: [V, 2] },
    crop_steps: { type: "int64", data: steps, dims: [V, 2] },
  };
  if (nStages > 0) inputs.jitter = { type: "float32", data: blend, dims: [nStages, 3, V, 1, 1, 1] };
  if (stages.hue) inputs.hue = { type: "float32", data: hue, dims: [V, 1, 1, 1] };
  if (stages.grayscale) inputs.grayscale = { type: "bool", data: grayscale, dims: [V, 1, 1, 1] };
  if (k > 0) {
    inputs.blur_h = { type: "float32", data: blur, dims: [3 * V, 1, 1, k] };
    inputs.blur_v = { type: "float32", data: blur, dims: [3 * V, 1, k, 1] };
  }
  if (stages.solarize) inputs.solarize = { type: "float32", data: solarize, dims: [V, 1, 1, 1] };
  return inputs;
}
