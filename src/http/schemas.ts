/**
 * zod schemas shared by the route contracts: identifiers, the problem object, the audit resource
 * and the result row. Named schemas (`.openapi("Name")`) become components in openapi.json.
 */
import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";
import { AUDIT_STATES } from "../core/audit-states.ts";
import { AUDIT_KINDS } from "../core/audit-kind.ts";
import { ID_BODY_PATTERN } from "../store/ids.ts";
import { PROBLEM_CONTENT_TYPE } from "../core/problem.ts";

export const DIGEST_PATTERN = "^sha256:[0-9a-f]{64}$";
export const AUDIT_ID_PATTERN = `^aud_${ID_BODY_PATTERN}$`;

export const DigestSchema = z
  .string()
  .regex(new RegExp(DIGEST_PATTERN), 'must be "sha256:" followed by 64 lowercase hex characters')
  .openapi({
    description: "Content address of a blob: the SHA-256 of its bytes.",
    example: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  });

export const AuditIdSchema = z
  .string()
  .regex(new RegExp(AUDIT_ID_PATTERN), "is not an audit id")
  .openapi({ example: "aud_01JH0Z8X6N3B9Q2W4E5R6T7Y8U" });

export const AuditIdParams = z.object({
  id: AuditIdSchema.openapi({ param: { name: "id", in: "path" } }),
});

export const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ example: "config.views" }),
    message: z.string(),
    location: z.string().optional().openapi({ description: "body, query, path or header" }),
  })
  .openapi("FieldError");

const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://sslmem.dev/problems/validation_failed" }),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(ERROR_CODE_NAMES).openapi({ description: "Stable, machine-readable error code." }),
    detail: z.string().optional().openapi({ description: "What went wrong and what to do; absent on 5xx." }),
    requestId: z.string().optional().openapi({ description: "Also in X-Request-Id; quote it when reporting a problem." }),
    errors: z.array(FieldErrorSchema).optional().openapi({ description: "Field errors of a validation_failed problem." }),
  })
  .catchall(z.unknown())
  .openapi("Problem", { description: "RFC 9457 problem details." });

const PROBLEM_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: "The request is invalid (`validation_failed`, with field errors).",
  401: "Missing or invalid bearer token (`unauthorized`).",
  404: "No such resource for this tenant (`not_found`).",
  406: "None of the accepted media types can be produced (`not_acceptable`).",
  408: "The request body stalled (`request_timeout`).",
  409: "The audit is not in a state that allows this.",
  413: "The body exceeds a size limit (`payload_too_large`).",
  415: "Unsupported Content-Type (`unsupported_media_type`).",
  422: "The request is well-formed but cannot be processed.",
  429: "Too many requests; honour Retry-After (`queue_full`, `rate_limited`).",
  500: "Internal error (`internal`); the body carries only the request id.",
  503: "Temporarily unavailable (`unavailable`); honour Retry-After.",
};

export const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } };

/** Response entries for the given statuses, each an application/problem+json Problem. */
export function problemResponses<S extends number>(...statuses: S[]): Record<S, { description: string; content: typeof problemContent }> {
  const out = {} as Record<S, { description: string; content: typeof problemContent }>;
  for (const s of statuses) out[s] = { description: PROBLEM_DESCRIPTIONS[s] ?? "Problem.", content: problemContent };
  return out;
}

/** Problems any authenticated route can answer with. */
export const COMMON_PROBLEMS = [400, 401, 500] as const;

export const BearerSecurity = [{ bearerAuth: [] }];

// --- audits ------------------------------------------------------------------------------------

export const AuditStateSchema = z.enum(AUDIT_STATES).openapi("AuditState");

export const AuditProgressSchema = z
  .object({
    stage: z.string().openapi({ example: "measuring" }),
    done: z.number().int().min(0),
    total: z.number().int().min(0),
    etaSeconds: z.number().min(0).optional(),
  })
  .openapi("AuditProgress");

export const AuditInputsSchema = z
  .object({
    target: DigestSchema.openapi({ description: "The target encoder (SSLMem), or the one encoder of a UnitMem audit." }),
    reference: DigestSchema.optional().openapi({ description: "The reference encoder; SSLMem audits only." }),
    candidates: DigestSchema,
    controls: DigestSchema.optional(),
  })
  .openapi("AuditInputs");

export const AuditLayerSchema = z
  .object({
    name: z.string().openapi({ description: "The layer: its ONNX value name, or TARGET=REFERENCE when the encoders name it differently. What `?layers=` of the results names." }),
    target: z.string().openapi({ description: "Value name in the target encoder." }),
    reference: z.string().openapi({ description: "Value name in the reference encoder." }),
    final: z.boolean().openapi({ description: "The representation output (its LayerMem is the audit score)." }),
    shape: z.array(z.number().int()).openapi({ description: "The target's value shape without the batch axis." }),
    dim: z.number().int().min(1).openapi({ description: "Width of the pooled row." }),
  })
  .openapi("AuditLayer");

export const AuditResourceSchema = z
  .object({
    id: AuditIdSchema,
    kind: z.enum(AUDIT_KINDS).openapi({ description: "sslmem: SSLMem scores of the candidates (target vs reference); unitmem: UnitMem of one encoder's units." }),
    state: AuditStateSchema,
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    startedAt: z.string().nullable().openapi({ format: "date-time" }),
    finishedAt: z.string().nullable().openapi({ format: "date-time" }),
    attempt: z.number().int().min(0).openapi({ description: "How many times the audit entered `running`." }),
    inputs: AuditInputsSchema,
    inputsPurgedAt: z.string().nullable().openapi({ description: "When DELETE or retention purged the candidate inputs." }),
    config: z.record(z.string(), z.unknown()).openapi({ description: "The audit configuration with defaults applied." }),
    progress: AuditProgressSchema.nullable(),
    summary: z.record(z.string(), z.unknown()).nullable().openapi({ description: "Present when the audit succeeded." }),
    error: ProblemSchema.nullable().openapi({ description: "Present when the audit failed." }),
    layers: z
      .array(AuditLayerSchema)
      .optional()
      .openapi({
        description:
          "LayerMem (`config.layers`): the layers the engine resolved, in the encoder's order, the representation last. Present on GET /v1/audits/{id} once the audit started measuring.",
      }),
    links: z.object({
      self: z.string(),
      results: z.string(),
      report: z.string(),
      events: z.string(),
      cancel: z.string(),
    }),
  })
  .openapi("Audit");

export const AuditPageSchema = z
  .object({ items: z.array(AuditResourceSchema), nextCursor: z.string().nullable() })
  .openapi("AuditPage");

// --- results -----------------------------------------------------------------------------------

export const ResultRowSchema = z
  .object({
    index: z.number().int().min(0),
    id: z.string().openapi({ description: "Point id: the path inside the archive, or the .npy index." }),
    role: z.enum(["candidate", "control"]),
    alignTarget: z.number(),
    alignReference: z.number(),
    score: z.number(),
    stdErr: z.number(),
    pairs: z.number().int(),
    scoreNormalized: z.number().optional(),
    pValue: z.number().optional(),
    flagged: z.boolean().optional(),
    layers: z
      .array(
        z
          .object({
            name: z.string(),
            alignTarget: z.number(),
            alignReference: z.number(),
            score: z.number().openapi({ description: "LayerMem: SSLMem on this layer's representation, on the point's same views." }),
            stdErr: z.number(),
          })
          .openapi("LayerResult"),
      )
      .optional()
      .openapi({ description: "With `?layers=`: the point's score on each requested layer, in the encoder's order." }),
  })
  .openapi("ResultRow");

export const ResultPageSchema = z
  .object({ items: z.array(ResultRowSchema), nextCursor: z.string().nullable() })
  .openapi("ResultPage");

export const UnitResultSchema = z
  .object({
    index: z.number().int().min(0).openapi({ description: "Position over all scored units (layers in report order, then units)." }),
    layer: z.string().openapi({ description: "The layer's ONNX value name." }),
    unit: z.number().int().min(0).openapi({ description: "The unit's index in its layer (a channel of a feature map, a feature of a vector)." }),
    unitMem: z.number().openapi({ description: "(μ_max − μ_−max) / (μ_max + μ_−max); 0 where it is undefined: μ_−max < 0 (a layer without a ReLU) or μ_max + μ_−max ≤ 0 (the report counts these per layer as signedUnits)." }),
    point: z.string().openapi({ description: "Id of the point the unit is most selective for." }),
    muMax: z.number().openapi({ description: "The unit's mean activation over that point's augmented views." }),
    muOthers: z.number().openapi({ description: "μ_−max: the median (or mean, per the config's baseline) over the other points." }),
  })
  .openapi("UnitResult");

export const UnitResultPageSchema = z
  .object({ items: z.array(UnitResultSchema), nextCursor: z.string().nullable() })
  .openapi("UnitResultPage");

// --- blobs -------------------------------------------------------------------------------------

export const BlobSchema = z.object({ digest: DigestSchema, size: z.number().int().min(0) }).openapi("Blob");

export const DigestParams = z.object({
  digest: DigestSchema.openapi({ param: { name: "digest", in: "path" } }),
});
