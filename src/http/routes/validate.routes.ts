/**
 * Contract of `POST /v1/audits:validate`: the body of `POST /v1/audits` (JSON referencing blobs),
 * checked as a submission would be — blobs, models, preprocessing, pooling, compatibility, point
 * sets — without queueing anything or running an encoder. 200 with the resolved contract, or the
 * problem the submission would end with.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { BearerSecurity, problemResponses } from "../schemas.ts";
import { SubmitAuditRequestSchema } from "./audits.routes.ts";

const shape = z.array(z.union([z.number().int(), z.string(), z.null()])).openapi({ description: "Dimensions; symbolic ones by name, null when blank." });

const EncoderContractSchema = z
  .object({
    format: z.literal("onnx"),
    digest: z.string(),
    input: z.object({ name: z.string(), shape }),
    output: z.object({ name: z.string(), shape: shape.nullable() }),
    pooling: z.enum(["none", "flatten", "mean", "cls"]),
    dim: z.number().int().nullable().openapi({ description: "Representation width; null when only a run would tell (symbolic output shape)." }),
  })
  .openapi("EncoderContract");

const TfjsEncoderCheckSchema = z
  .object({
    format: z.literal("tfjs"),
    modelFormat: z.enum(["layers-model", "graph-model"]),
    digest: z.string().openapi({ description: "sha256 over model.json and the shards in manifest order." }),
  })
  .openapi("TfjsEncoderCheck", { description: "A TF.js model: its model.json and weight shards checked, the model not loaded." });

const PointsSchema = z
  .object({
    kind: z.string(),
    count: z.number().int(),
    skipped: z.array(z.object({ id: z.string(), reason: z.string() })).openapi({ description: "Every entry that is not a point, with the reason." }),
  })
  .openapi("ValidatedPoints");

const source = z.enum(["override", "model", "default", "shape"]).openapi({ description: "override: the request's config; model: its sslmem.* metadata; shape: the input's dims; default: the identity beside explicit values." });

const PreprocessingSchema = z.object({
  height: z.number().int(),
  width: z.number().int(),
  layout: z.enum(["NCHW", "NHWC"]),
  range: z.tuple([z.number(), z.number()]),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number(), z.number(), z.number()]),
  sources: z.object({ inputSize: source, layout: source, range: source, mean: source, std: source }),
});

export const AuditValidationSchema = z
  .object({
    valid: z.literal(true),
    kind: z.literal("sslmem"),
    target: EncoderContractSchema,
    reference: EncoderContractSchema,
    preprocessing: PreprocessingSchema,
    candidates: PointsSchema,
    controls: PointsSchema.optional(),
    viewsPerPoint: z.number().int(),
    encoderPasses: z.number().int().openapi({ description: "Encoder runs the audit would make: points × views per point × 2 encoders." }),
    layers: z
      .array(z.object({ name: z.string(), target: z.string(), reference: z.string(), final: z.boolean() }))
      .optional()
      .openapi({ description: "LayerMem (`config.layers`): the layers the audit would measure, in the encoder's order, the representation last (their shapes are known once it runs)." }),
  })
  .openapi("AuditValidation");

const MixedAuditValidationSchema = z
  .object({
    valid: z.literal(true),
    kind: z.literal("sslmem"),
    target: z.union([EncoderContractSchema, TfjsEncoderCheckSchema]),
    reference: z.union([EncoderContractSchema, TfjsEncoderCheckSchema]),
    candidates: PointsSchema,
    controls: PointsSchema.optional(),
    viewsPerPoint: z.number().int(),
    encoderPasses: z.number().int(),
    deferred: z.array(z.string()).openapi({ description: "What only the audit checks, once it has loaded the TF.js models." }),
  })
  .openapi("MixedAuditValidation", { description: "An audit with a TF.js encoder: each ONNX side's contract, the TF.js models' files, the points." });

const UnitMemValidationSchema = z
  .object({
    valid: z.literal(true),
    kind: z.literal("unitmem"),
    encoder: EncoderContractSchema,
    preprocessing: PreprocessingSchema,
    layers: z.array(z.string()).openapi({ description: "The layers whose units would be scored (`config.layers` resolved by the engine's rule), in the encoder's order." }),
    candidates: PointsSchema,
    viewsPerPoint: z.number().int(),
    encoderPasses: z.number().int().openapi({ description: "Encoder runs: candidates × views." }),
  })
  .openapi("UnitMemValidation");

export const validateAudit = createRoute({
  method: "post",
  path: "/v1/audits:validate",
  tags: ["audits"],
  summary: "Check an audit without running it",
  description:
    "The JSON body of `POST /v1/audits`, checked as the audit would check it — uploaded blobs, both models (parsed, not " +
    "run), the preprocessing and where each value comes from (refused with `preprocessing_required` when nothing says " +
    "how the input is normalized), pooling, the encoders' compatibility, and the candidate and control sets with every " +
    "skipped entry named — without queueing anything. A UnitMem audit (`kind: unitmem`) answers its encoder's contract and " +
    "the layers whose units it would score. A TF.js encoder (a .tar/.zip blob of model.json and shards) has its files checked; " +
    "its input size and width are checked when the audit loads it (listed in `deferred`). Blobs only: a reference (oci://, " +
    "models:/, hf://, https://) is fetched when the audit runs. Decoding every image, the execution provider and an ETA need " +
    "the engine: `sslmem inspect` gives them.",
  security: BearerSecurity,
  request: { body: { required: true, content: { "application/json": { schema: SubmitAuditRequestSchema } } } },
  responses: {
    200: {
      description: "The audit would start; its resolved contract (`kind` says which audit; a TF.js encoder gives MixedAuditValidation).",
      content: { "application/json": { schema: z.union([AuditValidationSchema, MixedAuditValidationSchema, UnitMemValidationSchema]) } },
    },
    ...problemResponses(400, 401, 413, 415, 422, 500),
  },
});
