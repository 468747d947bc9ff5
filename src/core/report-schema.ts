/**
 * The schema of report v1 and the types inferred from it (see report.ts, which builds reports).
 * Separate from the builder so that the summary code can use the types without an import cycle.
 */
import { z } from "zod";
import { AuditConfigSchema, FLAG_METHODS, POOLINGS } from "./audit-config.ts";
import type { CalibrationDiagnostics } from "./calibration/types.ts";
import type { FlagOutcome } from "./flags.ts";
import { AugmentationPolicySchema } from "./policy.ts";
import { AuditSourcesSchema } from "./source-identity.ts";

export const REPORT_SCHEMA_VERSION = "sslmem.report/v1";

const count = z.number().int().min(0);
const probability = z.number().min(0).max(1);

export const DigestSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/)
  .meta({ description: "Content digest of the model file: sha256 of its bytes, lowercase hex." });

// `id` metadata names a $defs entry in the generated JSON Schema (used twice or more, defined once).
export const TensorInfoSchema = z
  .strictObject({
    name: z.string(),
    dtype: z.string().meta({ description: "ONNX element type, e.g. float32." }),
    shape: z.array(z.union([z.number().int(), z.string()])).meta({ description: "Dimensions; symbolic (dynamic) ones by name." }),
  })
  .meta({ id: "TensorInfo" });

export const EncoderInfoSchema = z
  .strictObject({
    digest: DigestSchema,
    inputs: z.array(TensorInfoSchema),
    outputs: z.array(TensorInfoSchema),
    representation: z.strictObject({
      output: z.string().meta({ description: "The encoder output used as the representation." }),
      pooling: z.enum(["none", "flatten", "mean", "cls"]).meta({ description: "How a >2-D output became one vector per image; none for [N, D]." }),
      dim: z.number().int().min(1),
    }),
  })
  .meta({ id: "EncoderInfo" });

const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const ReportPreprocessingSchema = z.strictObject({
  height: z.number().int().min(1),
  width: z.number().int().min(1),
  layout: z.enum(["NCHW", "NHWC"]),
  range: z.tuple([z.number(), z.number()]),
  mean: rgb,
  std: rgb,
});

/** The audit config as run: every default filled in, the augmentation preset resolved to its policy and the pooling to the one used. */
export const ReportConfigSchema = AuditConfigSchema.safeExtend({ augment: AugmentationPolicySchema, pool: z.enum(POOLINGS) });

/** At most this many skipped files are named in a report (the count is always exact). */
export const MAX_NAMED_SKIPPED = 1000;

export const PointSourceSchema = z
  .strictObject({
    kind: z.string().min(1).meta({ description: "Where the points came from, e.g. directory, archive, npy." }),
    count: count.meta({ description: "Points audited." }),
    skipped: count.meta({ description: "Entries skipped (not decodable, unsupported), including points that failed to decode during the run." }),
    skippedFiles: z
      .array(z.strictObject({ id: z.string(), reason: z.string() }))
      .max(MAX_NAMED_SKIPPED)
      .optional()
      .meta({ description: `Every skipped entry by id and reason (the first ${MAX_NAMED_SKIPPED}).` }),
  })
  .meta({ id: "PointSource" });

export const AuditInfoSchema = z.strictObject({
  id: z.string().min(1),
  created: z.iso.datetime({ offset: true }),
  target: EncoderInfoSchema,
  reference: EncoderInfoSchema,
  provider: z.string().min(1).meta({ description: "Execution provider the encoders ran on, e.g. cpu, cuda." }),
  engine: z.strictObject({
    name: z.enum(["onnxruntime", "tfjs", "onnxruntime+tfjs"]).meta({ description: "What ran the encoders: ONNX Runtime, TensorFlow.js, or one each (target and reference of different formats)." }),
    version: z.string(),
    tfjsBackend: z.string().optional().meta({ description: "The TF.js package and backend, e.g. tfjs/wasm, tfjs-node-gpu/tensorflow." }),
    pipeline: z
      .strictObject({
        mode: z.enum(["fused", "chained"]).meta({
          description: "fused: each batch ran as one composed ONNX graph (augmentation, both encoders, pair distances); chained: the augmentation and each encoder as their own sessions.",
        }),
        augmentation: z
          .enum(["graph", "host"])
          .optional()
          .meta({ description: "Where the views were made (fused only): in the composed graph, on the execution provider; or on the host CPU, one view at a time through only its own stages (the CPU provider, and views of at most 128 pixels a side on a GPU provider), the graph taking the views as its input." }),
        reason: z.string().optional().meta({ description: "Why the encoders were not composed (chained only)." }),
        opset: z.number().int().optional().meta({ description: "Opset of the composed graph (fused only)." }),
        augmentRuns: z
          .number()
          .int()
          .min(1)
          .optional()
          .meta({ description: "Runs a batch's views went through the augmentation in, each run's every stage before the next (fused only): sized so that a run's values stay in the caches." }),
        threads: z.number().int().min(1).meta({ description: "ONNX Runtime intra-op threads of the pipeline's sessions." }),
        staging: z
          .enum(["inline", "thread"])
          .optional()
          .meta({ description: "Where each batch's views were sampled and packed: on a thread of their own while the batch before ran on the device (GPU providers), or on the thread that runs the batches (the CPU provider)." }),
      })
      .optional()
      .meta({ description: "How ONNX Runtime ran the audit's batches (absent for TF.js encoders)." }),
    views: z
      .strictObject({ target: z.enum(["onnxruntime", "tfjs"]), reference: z.enum(["onnxruntime", "tfjs"]) })
      .optional()
      .meta({ description: "What made each encoder's augmented views (audits with a TF.js encoder): the ONNX augmentation graph on ONNX Runtime, or tf ops on the TF.js backend." }),
  }),
  preprocessing: ReportPreprocessingSchema,
  config: ReportConfigSchema,
  candidatesSource: PointSourceSchema,
  controlsSource: PointSourceSchema.optional(),
  sources: AuditSourcesSchema.optional(),
});

export const TailModelSchema = z
  .strictObject({
    family: z.literal("generalized-pareto"),
    threshold: z.number().meta({ description: "u: standardized score above which the GPD applies (the body is the controls' empirical distribution)." }),
    scale: z.number().gt(0),
    shape: z.number().min(0).meta({ description: "ξ as used: the ML estimate (constrained ≥ 0) plus half its standard error." }),
    exceedances: count.meta({ description: "Controls above u that the GPD was fitted to." }),
  })
  .meta({ description: "Upper tail of the fdr null of standardized scores." });

export const CalibrationDiagnosticsSchema = z.strictObject({
  controls: count,
  covariate: z
    .enum(["alignReference", "meanAlignment", "stdErr", "none"])
    .meta({ description: "Per-point covariate the null's location and scale depend on; none: one global scale." }),
  looFalseFlagRate: probability.meta({
    description: "Fraction of controls that would be flagged if each were scored as a candidate against the others (leave-one-out), at the candidates' cut.",
  }),
  looExpectedRate: probability.meta({ description: "The rate a calibrated null predicts at that cut (α for fpr, the BH p-value cut for fdr)." }),
  neighbors: count.optional().meta({ description: "Controls per local window of the fdr null." }),
  tail: TailModelSchema.optional(),
  qq: z
    .array(z.strictObject({ quantile: probability, empirical: z.number(), fitted: z.number() }))
    .optional()
    .meta({ description: "Quantiles of the controls' leave-one-out standardized scores vs the fitted null." }),
  qqMaxAbsDeviation: z.number().min(0).optional(),
});

export const FlagSummarySchema = z.strictObject({
  method: z.enum(FLAG_METHODS),
  parameters: z.record(z.string(), z.number()),
  calibrated: z.boolean(),
  expectedFalseFlags: z
    .number()
    .min(0)
    .optional()
    .meta({
      description:
        "fpr: achieved α × candidates, the flags a set of never-seen candidates gets by chance; fdr: q × flagged, the bound on the expected false discoveries among the flags. Absent for uncalibrated methods.",
    }),
  countPValue: probability.optional().meta({
    description:
      "fpr: exact P(at least this many flags | no candidate memorized), beta-binomial because all candidates share one control cut. A small value says the count exceeds chance.",
  }),
  threshold: z.number().optional().meta({ description: "Cut on the raw score scale, where one exists." }),
  diagnostics: CalibrationDiagnosticsSchema.optional(),
  warnings: z.array(z.string()),
});

export const HistogramSchema = z.strictObject({
  bins: z
    .array(
      z.strictObject({
        lo: z.number(),
        hi: z.number(),
        count: count.meta({ description: "Candidates with lo ≤ score < hi (≤ hi for the last bin)." }),
        controls: count.meta({ description: "Controls in the same interval." }),
      }),
    )
    .meta({ description: "20 equal-width bins over the candidates' score range; a single [v, v] bin when all candidate scores equal v." }),
  controlsBelow: count.meta({ description: "Controls scoring below the candidates' range." }),
  controlsAbove: count.meta({ description: "Controls scoring above the candidates' range." }),
  thresholdScore: z.number().optional(),
});

export const TopPointSchema = z.strictObject({
  id: z.string(),
  score: z.number(),
  scoreNormalized: z.number(),
  pValue: probability.optional(),
  flagged: z.boolean(),
});

export const EvidenceSchema = z
  .strictObject({
    test: z.literal("mann-whitney").meta({ description: "One-sided Mann–Whitney (Wilcoxon rank-sum) test of candidate scores against control scores." }),
    alternative: z.literal("greater"),
    candidates: count,
    controls: count,
    u: z.number().min(0).meta({ description: "U of the candidates: pairs (candidate, control) with the candidate scoring higher, ties counted ½." }),
    auc: probability.meta({ description: "U / (candidates × controls): the probability that a candidate outscores a control; 0.5 when f memorized nothing." }),
    aucLow: probability,
    aucHigh: probability,
    confidence: probability.meta({ description: "Coverage of [aucLow, aucHigh] (DeLong standard error)." }),
    pValue: probability.meta({ description: "P(U at least this large | candidates score like controls)." }),
    pValueMethod: z.enum(["exact", "normal"]),
    excessFraction: probability.meta({
      description: "max(0, 2·AUC − 1): estimated fraction of candidates scoring above the control distribution (a lower bound; exact when they outscore every control).",
    }),
    excessFractionLow: probability.meta({ description: "The same at aucLow." }),
    level: probability.meta({ description: "Level of the verdict (config.evidenceLevel, default 0.01)." }),
    evidence: z.boolean().meta({ description: "pValue ≤ level: evidence that the target memorized the candidates beyond chance." }),
  })
  .meta({
    id: "Evidence",
    description: "The set-level verdict: is there evidence that the target encoder memorized the candidates beyond chance? Present when the audit has controls.",
  });

const EncoderHealthSchema = z.strictObject({
  invarianceRatio: z.number().min(0).meta({
    description:
      "Mean distance between two augmented views of one image ÷ mean distance between views of different images, on a sample. Well below 1 for an encoder trained for invariance; near 1 for an untrained one or wrong preprocessing.",
  }),
  viewDistance: z.number().min(0),
  imageDistance: z.number().min(0),
});

export const HealthSchema = z
  .strictObject({
    sample: count.meta({ description: "Points the invariance ratios were measured on." }),
    target: EncoderHealthSchema,
    reference: EncoderHealthSchema,
    controlsAlignment: z
      .strictObject({
        target: z.number().meta({ description: "Mean alignment (view distance) of the target on the controls." }),
        reference: z.number().meta({ description: "Mean alignment of the reference on the controls." }),
        ratio: z.number().meta({ description: "reference ÷ target; near 1 when the reference is a fair one (same architecture and recipe)." }),
      })
      .optional(),
    warnings: z.array(z.string()),
  })
  .meta({ id: "Health", description: "Encoder health diagnostics: do both encoders look trained for invariance, with the right preprocessing, and alike?" });

export const ReportSummarySchema = z.strictObject({
  candidates: count,
  controls: count,
  meanScore: z.number(),
  medianScore: z.number(),
  flagged: count,
  flaggedFraction: probability,
  flag: FlagSummarySchema,
  evidence: EvidenceSchema.optional(),
  health: HealthSchema.optional(),
  histogram: HistogramSchema,
  top: z.array(TopPointSchema).max(10),
});

export const ReportPointSchema = z.strictObject({
  id: z.string(),
  role: z.enum(["candidate", "control"]),
  alignTarget: z.number(),
  alignReference: z.number(),
  score: z.number(),
  stdErr: z.number().min(0),
  scoreNormalized: z.number(),
  pValue: probability.optional(),
  flagged: z.boolean(),
});

export const LayerSummarySchema = z.strictObject({
  name: z.string().meta({ description: "The layer: its ONNX value name, or TARGET=REFERENCE when the encoders name it differently." }),
  target: z.string().meta({ description: "Value name in the target encoder." }),
  reference: z.string().meta({ description: "Value name in the reference encoder." }),
  final: z.boolean().meta({ description: "The representation output (its LayerMem is the audit score)." }),
  shape: z.array(z.number().int()).meta({ description: "The target's value shape without the batch axis." }),
  dim: z.number().int().min(1).meta({ description: "Width of the pooled row." }),
  meanScore: z.number().meta({ description: "Mean LayerMem over the candidates." }),
  medianScore: z.number(),
  delta: z.number().meta({ description: "ΔLayerMem: meanScore minus the previous layer's (the first layer's own mean)." }),
  flaggedPeaks: count.meta({ description: "Flagged candidates whose LayerMem is highest at this layer." }),
  flaggedPeakFraction: probability.meta({ description: "flaggedPeaks over all flagged candidates (0 when none are flagged)." }),
});

export const LayersSectionSchema = z
  .strictObject({
    pooling: z.enum(["flatten", "mean", "cls"]).meta({ description: "How >2-D layer values became one row per view (2-D values are used as is)." }),
    layers: z.array(LayerSummarySchema).min(1).meta({ description: "In the encoder's order; the representation last." }),
    points: z
      .array(
        z.strictObject({
          id: z.string(),
          role: z.enum(["candidate", "control"]),
          scores: z.array(z.number()).meta({ description: "LayerMem per layer, in the order of `layers`." }),
          stdErrs: z.array(z.number().min(0)),
        }),
      )
      .meta({ description: "Per-point LayerMem, in the order of `points`." }),
  })
  .meta({ description: "LayerMem (Wang et al., NeurIPS 2024): SSLMem on each chosen layer's representation, same views." });

export const ReportV1Schema = z
  .strictObject({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    audit: AuditInfoSchema,
    summary: ReportSummarySchema,
    points: z.array(ReportPointSchema),
    layers: LayersSectionSchema.optional(),
  })
  .meta({ title: "sslmem audit report v1", description: "SSLMem memorization scores and flags of one audit." });

export type ReportV1 = z.output<typeof ReportV1Schema>;
export type ReportAuditInfo = z.output<typeof AuditInfoSchema>;
export type ReportSummary = z.output<typeof ReportSummarySchema>;
export type ReportHistogram = z.output<typeof HistogramSchema>;
export type ReportTopPoint = z.output<typeof TopPointSchema>;
export type ReportPoint = z.output<typeof ReportPointSchema>;
export type ReportEvidence = z.output<typeof EvidenceSchema>;
export type ReportHealth = z.output<typeof HealthSchema>;
export type ReportConfig = z.output<typeof ReportConfigSchema>;
export type ReportLayers = z.output<typeof LayersSectionSchema>;

// The diagnostics type is declared next to the code that computes it; fail to compile if the two drift.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const diagnosticsMatch: Same<z.output<typeof CalibrationDiagnosticsSchema>, CalibrationDiagnostics> = true;
void diagnosticsMatch;

/** What a summary needs from the flag outcome (a FlagOutcome fits; its results are passed separately). */
export type FlagSummaryInput = Omit<FlagOutcome, "results">;
