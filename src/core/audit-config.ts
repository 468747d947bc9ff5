/**
 * The configuration of one audit: everything that determines its scores and flags.
 * The CLI flags, the HTTP API's `config` object and the report's `audit.config` are this schema.
 * Defaults live here and nowhere else.
 */
import { z } from "zod";
import { AugmentSettingSchema } from "./policy.ts";

export const FLAG_METHODS = ["fpr", "fdr", "robust", "threshold"] as const;
export type FlagMethod = (typeof FLAG_METHODS)[number];

const rgb = z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]);

export const PreprocessingOverridesSchema = z
  .object({
    /** Encoder input size; required when the model's H×W are not static. */
    inputSize: z
      .object({ height: z.number().int().min(1).max(4096), width: z.number().int().min(1).max(4096) })
      .strict()
      .optional(),
    layout: z.enum(["NCHW", "NHWC"]).optional(),
    /** Value range the encoder expects before mean/std (e.g. [0,1] or [0,255]). */
    range: z
      .tuple([z.number().finite(), z.number().finite()])
      .refine(([a, b]) => a < b, { message: "range must be [low, high] with low < high" })
      .optional(),
    /** Per-channel mean/std on the [0,1] scale (torchvision convention). */
    mean: rgb.optional(),
    std: rgb.refine((s) => s.every((v) => v > 0), { message: "std must be positive" }).optional(),
  })
  .strict();
export type PreprocessingOverrides = z.infer<typeof PreprocessingOverridesSchema>;

const layerName = z.string().min(1).max(256);
export const LayerSelectionSchema = z.union([
  z.literal("auto"),
  z.array(z.union([layerName, z.strictObject({ target: layerName, reference: layerName })])).min(1).max(32),
]);
export type LayerSelection = z.output<typeof LayerSelectionSchema>;

export const AuditConfigSchema = z
  .object({
    /** K: view pairs per point (pairing "views") or views per point (pairing "original"). */
    views: z.number().int().min(1).max(1024).default(16),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    augment: AugmentSettingSchema.default("simclr"),
    pairing: z.enum(["views", "original"]).default("views"),
    distance: z.enum(["l2", "cosine"]).default("l2"),
    preprocessing: PreprocessingOverridesSchema.default({}),
    pool: z.enum(["flatten", "mean", "cls"]).default("flatten"),
    /** Encoder output used as the representation; default: the first output. */
    outputName: z.string().min(1).max(256).optional(),
    /** Flag method; default `fpr` when controls are given, else `robust`. */
    flag: z.enum(FLAG_METHODS).optional(),
    /** α for `fpr`: per-point false-positive rate on controls. */
    fpr: z.number().gt(0).lt(0.5).default(0.01),
    /** q for `fdr`: Benjamini–Hochberg level. */
    fdr: z.number().gt(0).lt(1).default(0.05),
    /** t for `threshold`, on scoreNormalized. */
    threshold: z.number().finite().optional(),
    /** z cut-off for `robust`. */
    robustZ: z.number().gt(0).max(100).default(3.5),
    /**
     * LayerMem: also score these layers of the encoders (engine/layers.ts describes `auto`); a
     * name is an ONNX value name in both encoders, a {target, reference} pair maps differing names.
     */
    layers: LayerSelectionSchema.optional(),
    /**
     * Arithmetic of the encoders: fp32, or fp16 (fast on GPUs; on CPU, ONNX Runtime runs fp16 graphs
     * through float32 kernels, so no faster). Augmentation and distances stay fp32.
     */
    precision: z.enum(["fp32", "fp16"]).default("fp32"),
    /** Points per batch (at most; a memory budget may choose fewer). Memory is bounded by this, never by the number of candidates. */
    batchSize: z.number().int().min(1).max(4096).default(8),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.flag === "threshold" && c.threshold === undefined) {
      ctx.addIssue({ code: "custom", path: ["threshold"], message: "flag method 'threshold' needs a threshold" });
    }
  });

export type AuditConfigInput = z.input<typeof AuditConfigSchema>;
export type AuditConfig = z.output<typeof AuditConfigSchema>;

/** The flag method actually used: explicit, else fpr with controls, robust without. */
export function effectiveFlagMethod(config: AuditConfig, hasControls: boolean): FlagMethod {
  return config.flag ?? (hasControls ? "fpr" : "robust");
}
