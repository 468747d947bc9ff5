/**
 * The one-op and whole-policy cases both augmentation implementations (the ONNX graph and the TF.js tf ops)
 * are held to the TypeScript reference on: every preset at odd sizes, degenerate sizes, and random
 * valid policies (seeded).
 */
import assert from "node:assert/strict";
import { AugmentationPolicySchema, OP_ORDER, PRESETS, type AugmentationPolicy } from "../../src/core/policy.ts";
import { viewStream, type RandomStream } from "../../src/core/rng.ts";
import { fallbackCrop, type Size, type ViewParams } from "../../src/core/view-params.ts";
import { viewWith } from "./augment-images.ts";

export interface PolicyCase {
  name: string;
  policy: AugmentationPolicy;
  src: Size;
  out: Size;
  pairing: "views" | "original";
}

/** A policy in which every stage is present (p > 0), for testing ops in isolation. */
export const EVERY_STAGE = AugmentationPolicySchema.parse({
  ops: [
    { op: "randomResizedCrop" },
    { op: "horizontalFlip", p: 0.5 },
    { op: "colorJitter", p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
    { op: "grayscale", p: 0.2 },
    { op: "gaussianBlur", p: 0.5, kernelSize: 5 },
    { op: "solarize", p: 0.2 },
  ],
});

/** A random valid policy: a random subset of ops in the fixed order, random parameters. */
export function randomPolicy(rng: RandomStream): AugmentationPolicy {
  const p = () => [0, 1, rng.uniform()][rng.randint(3)];
  const pair = (lo: number, hi: number) => {
    const a = rng.uniformRange(lo, hi);
    const b = rng.uniformRange(lo, hi);
    return [Math.min(a, b), Math.max(a, b)];
  };
  const strength = (max: number) => (rng.bernoulli(0.3) ? 0 : rng.uniformRange(0, max));
  const make: Record<string, () => object> = {
    randomResizedCrop: () => ({ op: "randomResizedCrop", scale: pair(0.05, 1), ratio: pair(0.3, 3) }),
    horizontalFlip: () => ({ op: "horizontalFlip", p: p() }),
    colorJitter: () => ({ op: "colorJitter", p: p(), brightness: strength(1), contrast: strength(1.5), saturation: strength(2), hue: strength(0.5) }),
    grayscale: () => ({ op: "grayscale", p: p() }),
    gaussianBlur: () => ({ op: "gaussianBlur", p: p(), sigma: pair(0.05, 3), ...(rng.bernoulli(0.5) ? { kernelSize: 1 + 2 * rng.randint(4) } : {}) }),
    solarize: () => ({ op: "solarize", p: p(), threshold: rng.uniform() }),
  };
  const ops = () => OP_ORDER.filter(() => rng.bernoulli(0.7)).map((name) => make[name]());
  return AugmentationPolicySchema.parse({ ops: ops(), ...(rng.bernoulli(0.5) ? { secondViewOps: ops() } : {}) });
}

/** The presets at odd and degenerate sizes, then four random policies. */
export function wholePolicyCases(): PolicyCase[] {
  const cases: PolicyCase[] = [
    { name: "simclr", policy: PRESETS.simclr, src: { height: 7, width: 13 }, out: { height: 8, width: 8 }, pairing: "views" },
    { name: "byol", policy: PRESETS.byol, src: { height: 30, width: 21 }, out: { height: 12, width: 16 }, pairing: "views" },
    { name: "dino-global", policy: PRESETS["dino-global"], src: { height: 16, width: 16 }, out: { height: 24, width: 24 }, pairing: "original" },
    { name: "mae", policy: PRESETS.mae, src: { height: 5, width: 40 }, out: { height: 6, width: 6 }, pairing: "views" },
    { name: "none", policy: PRESETS.none, src: { height: 13, width: 7 }, out: { height: 9, width: 5 }, pairing: "original" },
    { name: "simclr, one-pixel source", policy: PRESETS.simclr, src: { height: 1, width: 1 }, out: { height: 3, width: 2 }, pairing: "views" },
    { name: "byol, one-pixel output", policy: PRESETS.byol, src: { height: 9, width: 9 }, out: { height: 1, width: 1 }, pairing: "views" },
  ];
  const policyRng = viewStream(2024, "random-policies", 0);
  for (let i = 0; i < 4; i++) {
    const dims = [
      { height: 7, width: 13 },
      { height: 19, width: 11 },
    ][i % 2];
    cases.push({ name: `random policy ${i}`, policy: randomPolicy(policyRng), src: dims, out: { height: 5 + 3 * i, width: 10 - i }, pairing: i % 2 ? "original" : "views" });
  }
  return cases;
}

/** One op at a time on a source of `src` (11×17 in both tests: the crops below fit it). */
export function singleOpCases(src: Size): [string, ViewParams][] {
  const jitter = (patch: Partial<{ brightness: number; contrast: number; saturation: number; hue: number }>) => ({ order: [0, 1, 2, 3], brightness: 1, contrast: 1, saturation: 1, hue: 0, ...patch });
  return [
    ["whole image", viewWith(src, {})],
    ["crop (upsampling: clamped at the crop's edges)", viewWith(src, { crop: { top: 2, left: 3, height: 5, width: 7 } })],
    ["crop of one pixel", viewWith(src, { crop: { top: 10, left: 16, height: 1, width: 1 } })],
    ["crop touching the left edge, flipped", viewWith(src, { crop: { top: 1, left: 0, height: 9, width: 6 }, flip: true })],
    ["flip", viewWith(src, { flip: true })],
    ["fallback crop", viewWith(src, { crop: fallbackCrop([5, 6], src) })],
    ["brightness", viewWith(src, { jitter: jitter({ brightness: 1.37 }) })],
    ["contrast", viewWith(src, { jitter: jitter({ contrast: 0.41 }) })],
    ["saturation", viewWith(src, { jitter: jitter({ saturation: 1.73 }) })],
    ["hue +", viewWith(src, { jitter: jitter({ hue: 0.21 }) })],
    ["hue −", viewWith(src, { jitter: jitter({ hue: -0.45 }) })],
    ["grayscale", viewWith(src, { grayscale: true })],
    ["blur 5", viewWith(src, { blur: { sigma: 0.7, kernelSize: 5 } })],
    ["blur 3 beside blur 5 (kernels of different widths in one batch)", viewWith(src, { blur: { sigma: 1.9, kernelSize: 3 } })],
    ["solarize", viewWith(src, { solarize: { threshold: 0.4 } })],
  ];
}

/** Views held to the augmentation reference: every per-view difference at most 1e-4, the others named. */
export const REFERENCE_TOLERANCE = 1e-4;

export function assertMatchesReference(diffs: number[], labels: string[], what: string): void {
  const bad = diffs.flatMap((d, i) => (d <= REFERENCE_TOLERANCE ? [] : [`${labels[i]}: ${d}`]));
  assert.deepEqual(bad, [], `${what} differ from the reference`);
}
