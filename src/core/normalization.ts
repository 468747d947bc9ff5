/**
 * Named normalizations of an encoder's input: the value range pixels are scaled to, then a
 * per-channel (x − mean) / std on the [0,1] scale (torchvision convention). An audit never guesses
 * these: a wrong normalization silently destroys the scores (issue 12: on the fixture encoders the
 * unnormalized audit flagged no member), so they come from a preset, explicit values or the model.
 */
export type Rgb = [number, number, number];

export interface Normalization {
  /** Value range pixels are mapped to before mean/std (e.g. [0,1] or [0,255]). */
  range: [number, number];
  mean: Rgb;
  std: Rgb;
}

/**
 * A normalization as a per-channel affine map of pixels on the [0,1] scale, out = scale·x + offset
 * (= lo + (hi − lo)·(x − mean)/std): the one form every augmentation implementation applies (the
 * ONNX graph, TF.js, the host addon).
 */
export function normalizationAffine(n: { mean: readonly number[]; std: readonly number[]; range: readonly [number, number] }): { scale: number[]; offset: number[] } {
  const [lo, hi] = n.range;
  return { scale: n.std.map((s) => (hi - lo) / s), offset: n.mean.map((m, c) => lo - (hi - lo) * (m / n.std[c])) };
}

export const NORMALIZE_PRESETS = {
  /** torchvision ImageNet models (ResNet, ViT, DINO, MoCo, SimCLR ports). */
  imagenet: { range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  /** OpenAI CLIP and most open_clip image towers. */
  clip: { range: [0, 1], mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  /** (x − 0.5) / 0.5: pixels mapped to [−1, 1] (Inception-style, many GAN/TF models). */
  half: { range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  /** Pixels on [0, 1], no mean/std. */
  unit: { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  /** Raw pixel values 0…255, no scaling at all (models that normalize inside the graph). */
  none: { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] },
} as const satisfies Record<NormalizePreset, { range: readonly [number, number]; mean: readonly number[]; std: readonly number[] }>;

export const NORMALIZE_PRESET_NAMES = ["imagenet", "clip", "half", "unit", "none"] as const;
export type NormalizePreset = (typeof NORMALIZE_PRESET_NAMES)[number];

export function isNormalizePreset(name: string): name is NormalizePreset {
  return Object.hasOwn(NORMALIZE_PRESETS, name);
}

export function presetNormalization(name: NormalizePreset): Normalization {
  const p = NORMALIZE_PRESETS[name];
  return { range: [p.range[0], p.range[1]], mean: [...p.mean] as Rgb, std: [...p.std] as Rgb };
}

/** One line per preset, for help texts, errors and docs. */
export function describePresets(): string {
  return NORMALIZE_PRESET_NAMES.map((n) => {
    const p = NORMALIZE_PRESETS[n];
    return `${n}: range ${p.range.join("–")}, mean ${p.mean.join(",")}, std ${p.std.join(",")}`;
  }).join("; ");
}

/**
 * Why these mean/std values look like the 0–255 scale, or null when they do not. On the [0,1]
 * scale a channel mean lies in [0, 1] and a standard deviation cannot exceed 0.5; values above 1
 * are almost surely 0–255 numbers (e.g. 123.7,116.3,103.5 for ImageNet's mean).
 */
export function looksLike255Scale(values: readonly number[]): boolean {
  return values.some((v) => Math.abs(v) > 1);
}

export function scaleAdvice(what: "mean" | "std", values: readonly number[]): string {
  const divided = values.map((v) => Number((v / 255).toPrecision(4))).join(",");
  return `${what} ${values.join(",")} looks like the 0–255 scale; ${what} is on the [0,1] scale (torchvision convention) — divide by 255: ${divided}`;
}
