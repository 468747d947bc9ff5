/**
 * The schema of report v1 and the types inferred from it (see report.ts, which builds reports).
 * Separate from the builder so that the summary code can use the types without an import cycle.
 */
import { z } from "zod";
import { AuditConfigSchema, FLAG_METHODS } from "./audit-config.ts";
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

/** The audit config as run: every default filled in and the augmentation preset resolved to its policy. */
export const ReportConfigSchema = AuditConfigSchema.safeExtend({ augment: AugmentationPolicySchema });

export const PointSourceSchema = z
  .strictObject({
    kind: z.string().min(1).meta({ description: "Where the points came from, e.g. directory, archive, npy." }),
    count: count.meta({ description: "Points audited." }),
    skipped: count.meta({ description: "Entries skipped (not decodable, unsupported)." }),
  })
  .meta({ id: "PointSource" });

export const AuditInfoSchema = z.strictObject({
  id: z.string().min(1),
  created: z.iso.datetime({ offset: true }),
  target: EncoderInfoSchema,
  reference: EncoderInfoSchema,
  provider: z.string().min(1).meta({ description: "Execution provider the encoders ran on, e.g. cpu, cuda." }),
  engine: z.strictObject({ name: z.literal("onnxruntime"), version: z.string() }),
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

export const ReportSummarySchema = z.strictObject({
  candidates: count,
  controls: count,
  meanScore: z.number(),
  medianScore: z.number(),
  flagged: count,
  flaggedFraction: probability,
  flag: FlagSummarySchema,
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

export const ReportV1Schema = z
  .strictObject({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    audit: AuditInfoSchema,
    summary: ReportSummarySchema,
    points: z.array(ReportPointSchema),
  })
  .meta({ title: "sslmem audit report v1", description: "SSLMem memorization scores and flags of one audit." });

export type ReportV1 = z.output<typeof ReportV1Schema>;
export type ReportAuditInfo = z.output<typeof AuditInfoSchema>;
export type ReportSummary = z.output<typeof ReportSummarySchema>;
export type ReportHistogram = z.output<typeof HistogramSchema>;
export type ReportTopPoint = z.output<typeof TopPointSchema>;
export type ReportPoint = z.output<typeof ReportPointSchema>;
export type ReportConfig = z.output<typeof ReportConfigSchema>;

// The diagnostics type is declared next to the code that computes it; fail to compile if the two drift.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const diagnosticsMatch: Same<z.output<typeof CalibrationDiagnosticsSchema>, CalibrationDiagnostics> = true;
void diagnosticsMatch;

/** What a summary needs from the flag outcome (a FlagOutcome fits; its results are passed separately). */
export type FlagSummaryInput = Omit<FlagOutcome, "results">;
