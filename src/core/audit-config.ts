/**
 * The configuration of one audit: everything that determines its scores and flags.
 * The CLI flags, the HTTP API's `config` object and the report's `audit.config` are this schema.
 * Defaults live here and nowhere else. Every field carries a description: /docs and the OpenAPI
 * document render them, so they are the reference a user reads.
 */
import { z } from "zod";
import { AugmentSettingSchema } from "./policy.ts";
import { looksLike255Scale, NORMALIZE_PRESET_NAMES, scaleAdvice } from "./normalization.ts";

export const FLAG_METHODS = ["fpr", "fdr", "robust", "threshold"] as const;
export type FlagMethod = (typeof FLAG_METHODS)[number];

export const POOLINGS = ["flatten", "mean", "cls"] as const;

const rgb = z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]);

export const PreprocessingOverridesSchema = z
  .object({
    inputSize: z
      .object({ height: z.number().int().min(1).max(4096), width: z.number().int().min(1).max(4096) })
      .strict()
      .optional()
      .describe("Encoder input size (CLI --input-size HxW); required when the model's H×W are not static, and must match them when they are."),
    layout: z.enum(["NCHW", "NHWC"]).optional().describe("Input layout (CLI --layout); default: the model's metadata, else where its 3 colour channels sit."),
    normalize: z
      .enum(NORMALIZE_PRESET_NAMES)
      .optional()
      .describe(
        "Named normalization (CLI --normalize): imagenet (mean 0.485,0.456,0.406, std 0.229,0.224,0.225), clip (mean 0.48145466,0.4578275,0.40821073, std 0.26862954,0.26130258,0.27577711), half ((x−0.5)/0.5, i.e. [−1,1]), unit ([0,1], no mean/std), none (raw 0…255). Exclusive with range/mean/std.",
      ),
    range: z
      .tuple([z.number().finite(), z.number().finite()])
      .refine(([a, b]) => a < b, { message: "range must be [low, high] with low < high" })
      .optional()
      .describe("Value range the encoder expects before mean/std, e.g. [0,1] or [0,255] (CLI --range LO,HI)."),
    mean: rgb
      .refine((m) => !looksLike255Scale(m), { error: (i) => scaleAdvice("mean", i.input as number[]) })
      .optional()
      .describe("Per-channel mean on the [0,1] scale, torchvision convention (CLI --mean a,b,c); needs std."),
    std: rgb
      .refine((s) => s.every((v) => v > 0), { message: "std must be positive" })
      .refine((s) => !looksLike255Scale(s), { error: (i) => scaleAdvice("std", i.input as number[]) })
      .optional()
      .describe("Per-channel standard deviation on the [0,1] scale (CLI --std a,b,c); needs mean."),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.normalize !== undefined && (p.mean !== undefined || p.std !== undefined || p.range !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["normalize"], message: "normalize names a preset; give either it or range/mean/std, not both" });
    }
    if ((p.mean === undefined) !== (p.std === undefined)) {
      ctx.addIssue({ code: "custom", path: [p.mean === undefined ? "mean" : "std"], message: "mean and std go together; give both (or a normalize preset)" });
    }
  })
  .describe(
    "How images become encoder inputs. Normalization is never guessed: it comes from normalize, from range/mean/std, or from the model's sslmem.* metadata (sslmem stamp); otherwise the audit is refused with preprocessing_required.",
  );
export type PreprocessingOverrides = z.infer<typeof PreprocessingOverridesSchema>;

const layerName = z.string().min(1).max(256);
export const LayerSelectionSchema = z.union([
  z.literal("auto"),
  z.array(z.union([layerName, z.strictObject({ target: layerName, reference: layerName })])).min(1).max(32),
]);
export type LayerSelection = z.output<typeof LayerSelectionSchema>;

export const AuditConfigSchema = z
  .object({
    views: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(16)
      .describe("K: view pairs per point (pairing views) or views per point (pairing original). More views, smaller stdErr (∝ 1/√K)."),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(0)
      .describe("Seed of the view randomness; every view derives from (seed, point id, view index), so scores do not depend on batching or order."),
    augment: AugmentSettingSchema.default("simclr").describe(
      "Augmentation distribution: a preset (simclr, byol, dino-global, mae, none) or a policy {ops:[…]} with torchvision names. Use the one the target was trained with.",
    ),
    pairing: z
      .enum(["views", "original"])
      .default("views")
      .describe("views: distance between two augmented views (the paper); original: un-augmented image vs each view (the authors' code)."),
    distance: z.enum(["l2", "cosine"]).default("l2").describe("Distance between L2-normalized embeddings: l2 (the paper) or cosine (1 − cos)."),
    preprocessing: PreprocessingOverridesSchema.default({}),
    pool: z
      .enum(POOLINGS)
      .optional()
      .describe(
        "Pooling of a [N,T,D] or [N,C,H,W] output: flatten (the authors' MAE code), mean (global average) or cls (token 0). Default flatten while the flattened size is at most 8192; above that it must be given.",
      ),
    outputName: z.string().min(1).max(256).optional().describe("Encoder output used as the representation; default: the first output."),
    flag: z
      .enum(FLAG_METHODS)
      .optional()
      .describe(
        "Flag method: fpr (score above the controls' (1−α) quantile), fdr (Benjamini–Hochberg at q with a null fitted to the controls), robust (robust z over candidates; uncalibrated), threshold (scoreNormalized ≥ t). Default fpr with controls, robust without.",
      ),
    fpr: z
      .number()
      .gt(0)
      .lt(0.5)
      .default(0.01)
      .describe("α for fpr: the per-point false-positive rate; about α·n clean candidates are flagged by chance. Needs at least 1/α − 1 controls to be calibrated."),
    fdr: z.number().gt(0).lt(1).default(0.05).describe("q for fdr: the expected fraction of false discoveries among the flagged."),
    threshold: z.number().finite().optional().describe("t for the threshold method, on scoreNormalized (uncalibrated)."),
    robustZ: z.number().gt(0).max(100).default(3.5).describe("z cut-off of the robust method."),
    evidenceLevel: z
      .number()
      .gt(0)
      .lt(0.5)
      .optional()
      .describe(
        "Level of the set-level verdict (default 0.01): with controls, the report states evidence of memorization when the one-sided Mann–Whitney test of candidate vs control scores has p ≤ this level (CLI --level).",
      ),
    layers: LayerSelectionSchema.optional().describe(
      "LayerMem: also score these layers of both encoders, on the same views in the same pass. \"auto\" takes the block outputs (residual additions, else the activation after each conv/linear); a name is an ONNX value name present in both encoders; {target, reference} maps differing names. The service resolves them when the audit starts (a name missing in either encoder fails it with invalid_config) and stores each point's per-layer scores: GET /v1/audits/{id} lists the layers, the results take ?layers=, the report has a `layers` section.",
    ),
    precision: z
      .enum(["fp32", "fp16"])
      .default("fp32")
      .describe("Arithmetic of the encoders: fp32, or fp16 (fast on GPUs; on CPU ONNX Runtime runs fp16 graphs through float32 kernels, so no faster). Augmentation and distances stay fp32."),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(8)
      .describe("Points per batch at most (a memory budget may choose fewer). Memory is bounded by this, never by the number of candidates; results do not depend on it."),
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
