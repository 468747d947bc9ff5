/** Contracts of the audit resource: submit, list, read, cancel, delete. */
import { createRoute, z } from "@hono/zod-openapi";
import { AuditConfigSchema } from "../../core/audit-config.ts";
import { UnitMemConfigSchema } from "../../core/unitmem-report.ts";
import {
  AuditIdParams,
  AuditIdSchema,
  AuditPageSchema,
  AuditResourceSchema,
  BearerSecurity,
  DigestSchema,
  problemResponses,
} from "../schemas.ts";

/** An uploaded blob's digest, or a reference resolved at submission (src/sources). */
export const AuditInputSchema = z.union([
  DigestSchema,
  z
    .string()
    .max(2048)
    .regex(/^(https?:\/\/|models:\/|hf:\/\/|oci:\/\/)/i, "a blob digest (sha256:<hex>) or a reference: oci://, models:/, hf://, https://…#sha256=<hex>")
    .openapi({ description: "oci://<registry>/<repository>:<tag>|@sha256:…, models:/<name>/<version>|@<alias>, hf://<owner>/<repo>/<path>@<revision>, https://…#sha256=<hex>" }),
]);

const CallbackUrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .optional()
  .openapi({ description: "Where to POST the summary when the audit ends, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) with the tenant's secret." });
const AllowUnpinnedSchema = z.boolean().optional().openapi({ description: "Accept https:// references without #sha256=…; the report then records what was fetched." });

/** An SSLMem audit (the default kind): target and reference encoders, candidates, optional controls. */
export const CreateAuditRequestSchema = z
  .object({
    kind: z.literal("sslmem").optional().openapi({ description: "SSLMem scores (the default when absent)." }),
    target: AuditInputSchema.openapi({ description: "The target encoder (trained on the candidates): a blob digest or a reference." }),
    reference: AuditInputSchema.openapi({ description: "The reference encoder (not trained on them): a blob digest or a reference." }),
    candidates: AuditInputSchema.openapi({ description: "The candidate archive (tar, tar.gz, zip or .npy): a blob digest or a reference." }),
    controls: AuditInputSchema.optional().openapi({ description: "A held-out archive that calibrates the flags: a blob digest or a reference." }),
    callbackUrl: CallbackUrlSchema,
    allowUnpinned: AllowUnpinnedSchema,
    // .meta, not .openapi: AuditConfigSchema may be built before @hono/zod-openapi extends zod.
    config: AuditConfigSchema.meta({ id: "AuditConfig", description: "The audit configuration (as `sslmem audit` flags)." }).optional(),
  })
  .strict()
  .openapi("CreateAuditRequest");

export type CreateAuditRequest = z.output<typeof CreateAuditRequestSchema>;

/**
 * A UnitMem audit: one encoder, the candidates, and UnitMem's configuration (as `sslmem units`
 * flags). No reference, no controls and no flags: UnitMem scores units, not points.
 */
export const UnitMemAuditRequestSchema = z
  .strictObject(
    {
      kind: z.literal("unitmem").openapi({ description: "UnitMem of one encoder's units (Wang et al., NeurIPS 2024)." }),
      encoder: AuditInputSchema.openapi({ description: "The encoder whose units are scored: a blob digest or a reference." }),
      candidates: AuditInputSchema.openapi({ description: "The points (tar, tar.gz, zip or .npy; at least two): a blob digest or a reference." }),
      callbackUrl: CallbackUrlSchema,
      allowUnpinned: AllowUnpinnedSchema,
      config: UnitMemConfigSchema.meta({ id: "UnitMemConfig", description: "The UnitMem configuration (as `sslmem units` flags)." }).optional(),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? "not a field of a UnitMem audit: it takes one `encoder` and `candidates` (no target, reference or controls)"
          : undefined,
    },
  )
  .openapi("UnitMemAuditRequest");

export type UnitMemAuditRequest = z.output<typeof UnitMemAuditRequestSchema>;

/** The body of POST /v1/audits: `kind` says which audit (absent: sslmem). One schema, one validation. */
export const SubmitAuditRequestSchema = z
  .discriminatedUnion("kind", [CreateAuditRequestSchema, UnitMemAuditRequestSchema])
  .openapi("SubmitAuditRequest", { description: "An SSLMem audit (`kind` absent or `sslmem`) or a UnitMem audit (`kind: unitmem`)." });

export type SubmitAuditRequest = z.output<typeof SubmitAuditRequestSchema>;

const fileField = (description: string) => ({ type: "string" as const, format: "binary", description });

/** Described for the document only; the handler streams the parts itself (see multipart.ts). */
const MultipartAuditSchema = {
  type: "object" as const,
  description: "SSLMem: target, reference, candidates (controls optional). UnitMem: kind=unitmem, encoder, candidates.",
  required: ["candidates"],
  properties: {
    kind: { type: "string" as const, enum: ["sslmem", "unitmem"], description: "Optional; default sslmem." },
    target: fileField("The target encoder (ONNX); SSLMem."),
    reference: fileField("The reference encoder (ONNX); SSLMem."),
    encoder: fileField("The encoder (ONNX); UnitMem."),
    candidates: fileField("The candidate archive."),
    controls: fileField("Optional held-out archive; SSLMem."),
    config: { type: "string" as const, contentMediaType: "application/json", description: "Optional AuditConfig (SSLMem) or UnitMemConfig (UnitMem) as JSON." },
  },
};

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, "must be 1–255 printable ASCII characters")
    .optional()
    .openapi({
      description: "Retry-safe submission: the same key with the same request returns the same audit.",
    }),
});

const auditLocation = { Location: { schema: { type: "string" as const }, description: "/v1/audits/{id}" } };
const auditJson = { "application/json": { schema: AuditResourceSchema } };

export const createAudit = createRoute({
  method: "post",
  path: "/v1/audits",
  tags: ["audits"],
  summary: "Submit an audit",
  description:
    "Either JSON referencing uploaded blobs by digest, or multipart/form-data with the files themselves (streamed " +
    "to the blob store) and an optional `config` JSON part. The audit is queued and runs asynchronously. `kind` chooses " +
    "the audit: `sslmem` (default; target, reference, candidates, optional controls, AuditConfig) or `unitmem` (one " +
    "`encoder`, candidates, UnitMemConfig; its results are per-unit rows and its report is `sslmem.unitmem/v1`).",
  security: BearerSecurity,
  request: {
    headers: IdempotencyHeaders,
    body: {
      required: false,
      content: {
        "application/json": { schema: SubmitAuditRequestSchema },
        "multipart/form-data": { schema: MultipartAuditSchema },
      },
    },
  },
  responses: {
    202: { description: "Queued.", headers: auditLocation, content: auditJson },
    200: { description: "Replay of an earlier request with the same Idempotency-Key.", headers: auditLocation, content: auditJson },
    ...problemResponses(400, 401, 408, 413, 415, 422, 429, 500, 503),
  },
});

export const listAudits = createRoute({
  method: "get",
  path: "/v1/audits",
  tags: ["audits"],
  summary: "Your audits, newest first",
  security: BearerSecurity,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: AuditIdSchema.optional().openapi({ description: "nextCursor of the previous page." }),
    }),
  },
  responses: {
    200: { description: "A page of audits.", content: { "application/json": { schema: AuditPageSchema } } },
    ...problemResponses(400, 401, 500),
  },
});

export const getAudit = createRoute({
  method: "get",
  path: "/v1/audits/{id}",
  tags: ["audits"],
  summary: "State, progress, summary or error of an audit",
  security: BearerSecurity,
  request: { params: AuditIdParams },
  responses: {
    200: { description: "The audit.", content: auditJson },
    ...problemResponses(400, 401, 404, 500),
  },
});

/**
 * Documentation only. Hono cannot route a parameter followed by a literal in one segment
 * (`{id}:cancel`), so the handler is mounted on a regex route; see audits.index.ts.
 */
export const cancelAudit = createRoute({
  method: "post",
  path: "/v1/audits/{id}:cancel",
  tags: ["audits"],
  summary: "Cancel a queued or running audit",
  security: BearerSecurity,
  request: { params: AuditIdParams },
  responses: {
    200: { description: "Cancelled (or already cancelled).", content: auditJson },
    202: { description: "Cancellation requested; the running batch is stopping.", content: auditJson },
    ...problemResponses(400, 401, 404, 409, 500),
  },
});

export const deleteAudit = createRoute({
  method: "delete",
  path: "/v1/audits/{id}",
  tags: ["audits"],
  summary: "Delete an audit and purge its data",
  description:
    "Cancels it if needed, deletes its results and events, and purges its candidate and control blobs unless " +
    "another audit uses them. The models are kept.",
  security: BearerSecurity,
  request: { params: AuditIdParams },
  responses: {
    204: { description: "Deleted." },
    ...problemResponses(400, 401, 404, 500),
  },
});
