/**
 * Sampling the parameters of augmented views (DESIGN.md §2), with torchvision semantics.
 *
 * Parameters are plain data (`ViewParams`): the host samples them (cheap, seeded, reproducible)
 * and both the ONNX augmentation graph and the TypeScript reference consume them, so the two
 * can be compared view by view.
 *
 * Each op draws from its own sub-stream of the view's random stream (tag per op, below): adding,
 * removing or re-tuning one op leaves the other ops' draws unchanged, so two policies that share
 * an op share its random numbers (common random numbers across policy variants). Every op always
 * consumes the same numbers whatever its probability, for the same reason.
 *
 * Deviations from torchvision, all where torchvision would fail or is undefined:
 * - the fallback crop keeps at least one pixel (torchvision returns an empty crop and then fails
 *   when ratio bounds are extreme relative to a tiny image);
 * - the blur kernel is capped at 2·(shorter output side) − 1 so reflect padding stays defined
 *   (torchvision raises for a kernel wider than twice the image).
 */
import { SslmemError } from "./errors.ts";
import { opsForView, type AugmentationOp, type AugmentationPolicy } from "./policy.ts";
import { pointStreams, type RandomStream } from "./rng.ts";
import { viewsPerPoint } from "./sslmem.ts";

export interface Size {
  readonly height: number;
  readonly width: number;
}

/** Crop box in source pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Colour-jitter op indices in `order`, as torchvision's ColorJitter `fn_idx`. */
export const JITTER_BRIGHTNESS = 0;
export const JITTER_CONTRAST = 1;
export const JITTER_SATURATION = 2;
export const JITTER_HUE = 3;

export interface JitterParams {
  /** Application order: a permutation of [0 brightness, 1 contrast, 2 saturation, 3 hue]. */
  order: number[];
  /** Multiplicative factors; 1 = unchanged. */
  brightness: number;
  contrast: number;
  saturation: number;
  /** Hue shift in turns, in [−0.5, 0.5]; 0 = unchanged. */
  hue: number;
}

/** Everything needed to compute one view; JSON-serializable. */
export interface ViewParams {
  crop: CropBox;
  flip: boolean;
  jitter: JitterParams | null;
  grayscale: boolean;
  blur: { sigma: number; kernelSize: number } | null;
  solarize: { threshold: number } | null;
}

/** Sub-stream tag of each op (stable: changing one changes every sampled view). */
const STREAM_TAG: Record<AugmentationOp["op"], number> = {
  randomResizedCrop: 1,
  horizontalFlip: 2,
  colorJitter: 3,
  grayscale: 4,
  gaussianBlur: 5,
  solarize: 6,
};

function checkSize(what: string, s: Size): void {
  if (!Number.isInteger(s.height) || !Number.isInteger(s.width) || s.height < 1 || s.width < 1) {
    throw new SslmemError(what === "image" ? "image_invalid" : "invalid_config", `${what} size must be positive integers, got ${s.height}×${s.width}`);
  }
}

/** Python's round(): half to even (torchvision's crop sizes use it). */
export function roundHalfEven(x: number): number {
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return Math.round(x);
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of a crop with area ∈ scale·H·W and
 * log-uniform aspect ratio; otherwise a centre crop with the ratio clamped to [min, max].
 */
export function sampleCrop(op: { scale: readonly [number, number]; ratio: readonly [number, number] }, rng: RandomStream, src: Size): CropBox {
  const { height: H, width: W } = src;
  const area = H * W;
  const logLo = Math.log(op.ratio[0]);
  const logHi = Math.log(op.ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniformRange(op.scale[0], op.scale[1]);
    const aspect = Math.exp(rng.uniformRange(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const top = rng.randint(H - h + 1);
      const left = rng.randint(W - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  return fallbackCrop(op.ratio, src);
}

/** torchvision's fallback: centre crop, aspect ratio clamped to the allowed range. */
export function fallbackCrop(ratio: readonly [number, number], src: Size): CropBox {
  const { height: H, width: W } = src;
  const inRatio = W / H;
  let w = W;
  let h = H;
  if (inRatio < ratio[0]) {
    h = Math.max(1, roundHalfEven(w / ratio[0]));
  } else if (inRatio > ratio[1]) {
    w = Math.max(1, roundHalfEven(h * ratio[1]));
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

/**
 * Blur kernel size for an output size: the op's, else the odd integer nearest 10% of the shorter
 * output side, ties up — identical to SimCLR's int(0.1·size) made odd (2·⌊k/2⌋ + 1) — and at
 * least 3; capped at 2·(shorter side) − 1 (see the file comment).
 */
export function blurKernelSize(op: { kernelSize?: number }, out: Size): number {
  const side = Math.min(out.height, out.width);
  const wanted = op.kernelSize ?? Math.max(3, 2 * Math.round((0.1 * side - 1) / 2) + 1);
  return Math.min(wanted, 2 * side - 1);
}

/** The whole image, resized, with no other op (the "original" of pairing "original"). */
export function identityView(src: Size): ViewParams {
  return { crop: { top: 0, left: 0, height: src.height, width: src.width }, flip: false, jitter: null, grayscale: false, blur: null, solarize: null };
}

/** Samples one view's parameters for `ops` (the op list of that view). */
export function sampleViewParams(ops: readonly AugmentationOp[], rng: RandomStream, src: Size, out: Size): ViewParams {
  checkSize("image", src);
  checkSize("output", out);
  const view = identityView(src);
  for (const op of ops) {
    const s = rng.substream(STREAM_TAG[op.op]);
    switch (op.op) {
      case "randomResizedCrop":
        view.crop = sampleCrop(op, s, src);
        break;
      case "horizontalFlip":
        view.flip = s.bernoulli(op.p);
        break;
      case "colorJitter": {
        const applied = s.bernoulli(op.p);
        const order = s.permutation(4);
        // factor ranges as torchvision's ColorJitter._check_input; a zero strength means "skip".
        const factor = (v: number) => {
          const f = s.uniformRange(Math.max(0, 1 - v), 1 + v);
          return v === 0 ? 1 : f;
        };
        const brightness = factor(op.brightness);
        const contrast = factor(op.contrast);
        const saturation = factor(op.saturation);
        const hueDraw = s.uniformRange(-op.hue, op.hue);
        const hue = op.hue === 0 ? 0 : hueDraw;
        const anyComponent = op.brightness > 0 || op.contrast > 0 || op.saturation > 0 || op.hue > 0;
        view.jitter = applied && anyComponent ? { order, brightness, contrast, saturation, hue } : null;
        break;
      }
      case "grayscale":
        view.grayscale = s.bernoulli(op.p);
        break;
      case "gaussianBlur": {
        const applied = s.bernoulli(op.p);
        const sigma = s.uniformRange(op.sigma[0], op.sigma[1]);
        view.blur = applied ? { sigma, kernelSize: blurKernelSize(op, out) } : null;
        break;
      }
      case "solarize":
        view.solarize = s.bernoulli(op.p) ? { threshold: op.threshold } : null;
        break;
    }
  }
  return view;
}

/**
 * All views of one point. Pairing "views": 2K views, views 2j and 2j+1 form pair j (odd views use
 * `secondViewOps` when the policy has them). Pairing "original": K+1 views, view 0 the un-augmented
 * image, views 1..K augmented. View i always draws from the stream (seed, pointId, i).
 */
export function sampleViewsForPoint(
  policy: AugmentationPolicy,
  pairing: "views" | "original",
  seed: number,
  pointId: string,
  views: number,
  src: Size,
  out: Size,
): ViewParams[] {
  if (!Number.isInteger(views) || views < 1) throw new SslmemError("invalid_config", `views must be a positive integer, got ${views}`);
  checkSize("image", src);
  const result: ViewParams[] = [];
  const count = viewsPerPoint(views, pairing);
  const streamOf = pointStreams(seed, pointId);
  for (let i = 0; i < count; i++) {
    if (pairing === "original" && i === 0) {
      result.push(identityView(src));
      continue;
    }
    result.push(sampleViewParams(opsForView(policy, i, pairing), streamOf(i), src, out));
  }
  return result;
}
