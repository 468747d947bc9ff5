/**
 * Augmentation policies as data, with torchvision names and semantics (DESIGN.md §2).
 *
 * The pixel pipeline has a fixed stage order — geometry (crop, flip), colour jitter, grayscale,
 * blur, solarize — because that is how every SSL recipe composes them and because the ONNX graph
 * is built for that order. A policy lists each op at most once, in that order; a policy that
 * does not is rejected with a message naming the expected order rather than silently reordered.
 *
 * Asymmetric recipes (BYOL, DINO) use different probabilities for the two views of a pair:
 * `secondViewOps`, when present, applies to the second view of every pair.
 */
import { z } from "zod";

const unit = z.number().min(0).max(1);
const range = (lo: number, hi: number) =>
  z
    .tuple([z.number().min(lo).max(hi), z.number().min(lo).max(hi)])
    .refine(([a, b]) => a <= b, { message: "range must be [min, max] with min <= max" });

export const RandomResizedCropSchema = z
  .object({
    op: z.literal("randomResizedCrop"),
    scale: range(1e-4, 1).default([0.08, 1]),
    ratio: range(1e-3, 1e3).default([3 / 4, 4 / 3]),
  })
  .strict();
export const HorizontalFlipSchema = z.object({ op: z.literal("horizontalFlip"), p: unit.default(0.5) }).strict();
export const ColorJitterSchema = z
  .object({
    op: z.literal("colorJitter"),
    p: unit.default(0.8),
    brightness: z.number().min(0).max(10).default(0),
    contrast: z.number().min(0).max(10).default(0),
    saturation: z.number().min(0).max(10).default(0),
    hue: z.number().min(0).max(0.5).default(0),
  })
  .strict();
export const GrayscaleSchema = z.object({ op: z.literal("grayscale"), p: unit.default(0.1) }).strict();
export const GaussianBlurSchema = z
  .object({
    op: z.literal("gaussianBlur"),
    p: unit.default(0.5),
    sigma: range(1e-3, 100).default([0.1, 2.0]),
    /** Odd kernel size in output pixels; default: the odd number nearest 10% of the output size (SimCLR). */
    kernelSize: z
      .number()
      .int()
      .min(1)
      .max(101)
      .refine((k) => k % 2 === 1, { message: "kernelSize must be odd" })
      .optional(),
  })
  .strict();
export const SolarizeSchema = z.object({ op: z.literal("solarize"), p: unit.default(0), threshold: unit.default(0.5) }).strict();

export const AugmentationOpSchema = z.discriminatedUnion("op", [
  RandomResizedCropSchema,
  HorizontalFlipSchema,
  ColorJitterSchema,
  GrayscaleSchema,
  GaussianBlurSchema,
  SolarizeSchema,
]);
export type AugmentationOp = z.infer<typeof AugmentationOpSchema>;
export type OpName = AugmentationOp["op"];

export const OP_ORDER: readonly OpName[] = ["randomResizedCrop", "horizontalFlip", "colorJitter", "grayscale", "gaussianBlur", "solarize"];

const OpListSchema = z
  .array(AugmentationOpSchema)
  .max(OP_ORDER.length)
  .superRefine((ops, ctx) => {
    let last = -1;
    for (let i = 0; i < ops.length; i++) {
      const at = OP_ORDER.indexOf(ops[i].op);
      if (at <= last) {
        ctx.addIssue({
          code: "custom",
          path: [i, "op"],
          message: `ops must appear at most once each, in the order ${OP_ORDER.join(", ")}`,
        });
        return;
      }
      last = at;
    }
  });

export const AugmentationPolicySchema = z
  .object({
    ops: OpListSchema,
    secondViewOps: OpListSchema.optional(),
  })
  .strict();
export type AugmentationPolicy = z.infer<typeof AugmentationPolicySchema>;

export const PRESET_NAMES = ["simclr", "byol", "dino-global", "mae", "none"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const parse = (p: unknown) => AugmentationPolicySchema.parse(p);

/**
 * BYOL's recipe, also DINO's global crops: the same crop, flip, jitter and grayscale for both views
 * of a pair, but blur always on the first view and rarely on the second, and solarize only on the
 * second.
 */
function asymmetric(o: { scale: [number, number]; saturation: number }): AugmentationPolicy {
  const view = (blurP: number, solarizeP: number) => [
    { op: "randomResizedCrop", scale: o.scale, ratio: [3 / 4, 4 / 3] },
    { op: "horizontalFlip", p: 0.5 },
    { op: "colorJitter", p: 0.8, brightness: 0.4, contrast: 0.4, saturation: o.saturation, hue: 0.1 },
    { op: "grayscale", p: 0.2 },
    { op: "gaussianBlur", p: blurP, sigma: [0.1, 2.0] },
    { op: "solarize", p: solarizeP, threshold: 0.5 },
  ];
  return parse({ ops: view(1.0, 0.0), secondViewOps: view(0.1, 0.2) });
}

/** torchvision recipes of the respective papers (crop size comes from the encoder). */
export const PRESETS: Record<PresetName, AugmentationPolicy> = {
  simclr: parse({
    ops: [
      { op: "randomResizedCrop", scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
      { op: "horizontalFlip", p: 0.5 },
      { op: "colorJitter", p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
      { op: "grayscale", p: 0.2 },
      { op: "gaussianBlur", p: 0.5, sigma: [0.1, 2.0] },
    ],
  }),
  byol: asymmetric({ scale: [0.08, 1], saturation: 0.2 }),
  "dino-global": asymmetric({ scale: [0.4, 1], saturation: 0.2 }),
  mae: parse({
    ops: [
      { op: "randomResizedCrop", scale: [0.2, 1], ratio: [3 / 4, 4 / 3] },
      { op: "horizontalFlip", p: 0.5 },
    ],
  }),
  none: parse({ ops: [] }),
};

export const AugmentSettingSchema = z.union([z.enum(PRESET_NAMES), AugmentationPolicySchema]);
export type AugmentSetting = z.infer<typeof AugmentSettingSchema>;

export function resolvePolicy(setting: AugmentSetting): AugmentationPolicy {
  return typeof setting === "string" ? PRESETS[setting] : setting;
}

/** The ops that apply to view `viewIndex` (odd views are the second view of their pair). */
export function opsForView(policy: AugmentationPolicy, viewIndex: number, pairing: "views" | "original"): AugmentationOp[] {
  if (pairing === "views" && viewIndex % 2 === 1 && policy.secondViewOps) return policy.secondViewOps;
  return policy.ops;
}
