/**
 * Turning a submission (JSON or multipart) into a queued audit. Both forms end in the same
 * request object validated by the same schema, so errors have the same shape and paths.
 *
 * "A refused request changes nothing": multipart files are streamed into the blob store first
 * (content-addressed, invisible to tenants until ownership is recorded); on any failure the bytes
 * that nobody else owns are deleted again.
 */
import { createHash } from "node:crypto";
import { AuditConfigSchema } from "../../core/audit-config.ts";
import { AUDIT_KINDS, type AuditKind } from "../../core/audit-kind.ts";
import { UnitMemConfigSchema } from "../../core/unitmem-report.ts";
import { SslmemError, isSslmemError } from "../../core/errors.ts";
import { assertCallbackAllowed, completionCallback } from "../../callbacks/completion-callback.ts";
import { forgetBlobs } from "../../jobs/purge.ts";
import { resolveAuditInputs } from "../../sources/audit-inputs.ts";
import type { AuditDeliveryInput } from "../../store/outbox-types.ts";
import type { WatchTriggerRef } from "../../store/watch-types.ts";
import { AUDIT_INPUT_ROLES, type AuditInputs, type CreateAuditResult, type JsonObject } from "../../store/types.ts";
import { bodyChunks } from "../body.ts";
import type { AppServices } from "../context.ts";
import { multipartBoundary, readMultipart } from "../multipart.ts";
import { validationError } from "../../core/problem.ts";
import { HttpProblemError, fieldErrors } from "../problem-response.ts";
import { SubmitAuditRequestSchema, type SubmitAuditRequest } from "./audits.routes.ts";

/** File parts (stored as blobs) and the text parts `kind` and `config`. */
const FILE_PARTS = [...AUDIT_INPUT_ROLES, "encoder"] as const;
const MULTIPART_FIELDS = [...FILE_PARTS, "kind", "config"] as const;

export function isMultipart(contentType: string | undefined): boolean {
  return /^multipart\/form-data\b/i.test(contentType ?? "");
}

export function isJson(contentType: string | undefined): boolean {
  return /^application\/([a-z0-9.+-]+\+)?json\b/i.test(contentType ?? "");
}

function queueFull(s: AppServices, tenantShare?: string): HttpProblemError {
  const retry = String(s.config.limits.queueRetryAfterSeconds);
  return new HttpProblemError(
    "queue_full",
    tenantShare ?? `${s.config.limits.maxQueue} audits are already waiting; retry after ${retry} s`,
    { "Retry-After": retry },
    { retryAfterSeconds: Number(retry) },
  );
}

/**
 * A cheap early refusal before a body is read. The binding check is the store's (createAudit with
 * maxQueued), atomic with the insert; this one only spares a client an upload.
 */
export function assertQueueHasRoom(s: AppServices): void {
  if (s.runner.queueDepth() >= s.config.limits.maxQueue) throw queueFull(s);
}

/** Server-side limits on top of the schema's own ranges (the same for every kind). */
function assertWithinServerLimits(s: AppServices, request: SubmitAuditRequest): void {
  const views = request.config?.views;
  if (views !== undefined && views > s.config.limits.maxViews) {
    throw validationError("the audit configuration exceeds a server limit", [
      { path: "config.views", message: `must be at most ${s.config.limits.maxViews} on this server`, location: "body" },
    ]);
  }
  const batchSize = request.config?.batchSize;
  if (batchSize !== undefined && batchSize > s.config.limits.maxBatchSize) {
    throw validationError("the audit configuration exceeds a server limit", [
      { path: "config.batchSize", message: `must be at most ${s.config.limits.maxBatchSize} on this server`, location: "body" },
    ]);
  }
}

/** Stable JSON (sorted keys) so that equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a submission asks for, whatever its kind: the inputs by role and the config with its
 * defaults applied once, here (the stored config is what ran, and equal requests hash equally).
 * A UnitMem audit's one encoder is stored in the `target` role; its errors still say `encoder`.
 */
interface AuditOrder {
  kind: AuditKind;
  inputs: AuditInputs;
  config: JsonObject;
  /** The request field of each input role (errors name the field the client sent). */
  fieldOf: (role: string) => string;
}

function orderOf(request: SubmitAuditRequest): AuditOrder {
  if (request.kind === "unitmem") {
    return {
      kind: "unitmem",
      inputs: { target: request.encoder, candidates: request.candidates },
      config: UnitMemConfigSchema.parse(request.config ?? {}),
      fieldOf: (role) => (role === "target" ? "encoder" : role),
    };
  }
  // config.layers (LayerMem) is checked against the encoders' graphs when the engine resolves them,
  // with the CLI's rule and error (invalid_config naming the layer and the encoder that lacks it).
  const config = AuditConfigSchema.parse(request.config ?? {});
  return {
    kind: "sslmem",
    inputs: {
      target: request.target,
      reference: request.reference,
      candidates: request.candidates,
      ...(request.controls !== undefined ? { controls: request.controls } : {}),
    },
    config,
    fieldOf: (role) => role,
  };
}

/** The runner must execute this kind (the scaled mode's shard workers do not run UnitMem). */
function assertRunnerRunsKind(s: AppServices, kind: AuditKind): void {
  const kinds = s.runner.kinds ?? AUDIT_KINDS;
  if (kinds.includes(kind)) return;
  throw new SslmemError("invalid_config", `this server does not run ${kind} audits (its workers run ${kinds.join(", ")}); use \`sslmem units\` locally or an embedded server`, {
    errors: [{ path: "kind", message: `not run by this server's workers`, location: "body" }],
  });
}

/** An input error names the request's field (`encoder`, not the stored role). */
function renamedFields(err: unknown, fieldOf: (role: string) => string): unknown {
  if (!isSslmemError(err) || !Array.isArray(err.details?.errors)) return err;
  const errors = (err.details.errors as { path?: unknown }[]).map((e) => (typeof e.path === "string" ? { ...e, path: fieldOf(e.path) } : e));
  return new SslmemError(err.code, err.message, { ...err.details, errors }, { cause: err.cause });
}

/** What a caller other than the request adds to the audit's transaction (a watch: its write-back and its claim). */
export interface SubmissionExtras {
  deliveries?: readonly AuditDeliveryInput[];
  settlesWatchTrigger?: WatchTriggerRef;
}

/**
 * Validates a submission against the blobs the tenant owns and queues it: the audit, its sources
 * and its deliveries (the request's completion callback, then the extras', e.g. a watch's
 * verdict write-back) are written in one transaction by AuditService.create.
 */
export async function submitAudit(
  s: AppServices,
  tenant: string,
  request: SubmitAuditRequest,
  idempotencyKey: string | undefined,
  extras: SubmissionExtras = {},
): Promise<CreateAuditResult> {
  assertWithinServerLimits(s, request);
  const order = orderOf(request);
  assertRunnerRunsKind(s, order.kind);
  if (request.callbackUrl !== undefined) assertCallbackAllowed(s.config, tenant, request.callbackUrl);
  // References (oci://, models:/, hf://, https://…#sha256=) become digests of resolved blobs here.
  let resolved;
  try {
    resolved = await resolveAuditInputs(s, tenant, order.inputs, { allowUnpinned: request.allowUnpinned ?? false });
  } catch (err) {
    throw renamedFields(err, order.fieldOf);
  }
  const { inputs, sources } = resolved;
  for (const role of AUDIT_INPUT_ROLES) {
    const digest = inputs[role];
    if (digest !== undefined && !(await s.store.tenantHasBlob(tenant, digest))) {
      const field = order.fieldOf(role);
      throw new SslmemError("blob_not_found", `the ${field} blob ${digest} has not been uploaded; PUT it to /v1/blobs/${digest} first`, {
        errors: [{ path: field, message: "you have not uploaded a blob with this digest", location: "body" }],
      });
    }
  }
  const { config, kind } = order;
  // SSLMem audits hash as they always did (an Idempotency-Key replay across an upgrade still matches).
  const requestHash = createHash("sha256").update(canonicalJson(kind === "sslmem" ? { inputs, config } : { kind, inputs, config })).digest("hex");
  const allDeliveries = [...(request.callbackUrl !== undefined ? [completionCallback(request.callbackUrl)] : []), ...(extras.deliveries ?? [])];
  let result: CreateAuditResult;
  try {
    result = await s.audits.create({
      tenant,
      kind,
      config,
      inputs,
      sources,
      deliveries: allDeliveries,
      ...(extras.settlesWatchTrigger ? { settlesWatchTrigger: extras.settlesWatchTrigger } : {}),
      requestHash,
      maxQueued: s.config.limits.maxQueue,
      maxQueuedPerTenant: s.config.limits.maxQueuePerTenant,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    });
  } catch (err) {
    if (isSslmemError(err) && err.code === "queue_full") throw queueFull(s, err.details?.maxQueuedPerTenant !== undefined ? err.message : undefined);
    throw err;
  }
  if (result.created) {
    // Committed with the audit: the dispatcher may take them now (it waits for the audit to end).
    if (allDeliveries.length > 0) s.outbox?.wake();
    try {
      await s.runner.enqueue(result.audit.id);
    } catch (err) {
      // Queued in the store all the same: the next start of the runner picks it up.
      s.logger.warn({ auditId: result.audit.id, err }, "audit stored but not handed to the runner");
    }
  }
  return result;
}

interface Uploaded {
  /** The part's name (an input role, or `encoder`). */
  role: string;
  digest: string;
  size: number;
  /** false when the tenant already owned it before this request (never forgotten on failure). */
  newForTenant: boolean;
}

async function readText(body: AsyncIterable<Buffer>, maxBytes: number, part: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      throw new SslmemError("payload_too_large", `the ${part} part is larger than ${maxBytes} bytes`, { maxBytes, part });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function shortName(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}…` : name;
}

/** Streams the parts: files into the blob store (recorded in `uploaded`), `config` parsed as JSON. */
async function readMultipartFields(
  s: AppServices,
  tenant: string,
  request: Request,
  uploaded: Uploaded[],
): Promise<Record<string, unknown>> {
  const boundary = multipartBoundary(request.headers.get("content-type") ?? undefined);
  const fields: Record<string, unknown> = {};
  const parts = readMultipart(bodyChunks(request, s.config.limits.bodyTimeoutMs), boundary, {
    maxParts: MULTIPART_FIELDS.length,
    maxHeaderBytes: 16 * 1024,
  });
  for await (const part of parts) {
    const name = part.name;
    if (!(MULTIPART_FIELDS as readonly string[]).includes(name)) {
      throw validationError(`unknown part '${shortName(name)}'`, [
        { path: shortName(name), message: `unknown part; expected one of ${MULTIPART_FIELDS.join(", ")}`, location: "body" },
      ]);
    }
    if (name in fields) {
      throw validationError(`the part '${name}' appears twice`, [{ path: name, message: "duplicate part", location: "body" }]);
    }
    if (name === "kind") {
      fields.kind = await readText(part.body, 64, "kind");
      continue;
    }
    if (name === "config") {
      const text = await readText(part.body, s.config.limits.maxConfigPartBytes, "config");
      try {
        fields.config = JSON.parse(text);
      } catch {
        throw validationError("the config part is not valid JSON", [{ path: "config", message: "not valid JSON", location: "body" }]);
      }
      continue;
    }
    const role = name;
    let stored;
    try {
      stored = await s.blobs.put(part.body, { maxBytes: s.config.limits.maxBlobBytes });
    } catch (err) {
      if (isSslmemError(err) && err.code === "payload_too_large") {
        throw new SslmemError("payload_too_large", `the ${role} part is larger than ${s.config.limits.maxBlobBytes} bytes`, {
          maxBytes: s.config.limits.maxBlobBytes,
          part: role,
        });
      }
      throw err;
    }
    uploaded.push({ role, ...stored, newForTenant: !(await s.store.tenantHasBlob(tenant, stored.digest)) });
    fields[role] = stored.digest;
  }
  return fields;
}

/** The multipart form of POST /v1/audits, from the first byte to the queued audit. */
export async function submitMultipartAudit(
  s: AppServices,
  tenant: string,
  request: Request,
  idempotencyKey: string | undefined,
): Promise<CreateAuditResult> {
  const uploaded: Uploaded[] = [];
  try {
    const fields = await readMultipartFields(s, tenant, request, uploaded);
    const parsed = SubmitAuditRequestSchema.safeParse(fields);
    if (!parsed.success) throw validationError("the multipart submission is invalid", fieldErrors(parsed.error, "body"));
    for (const u of uploaded) await s.store.recordBlob({ digest: u.digest, size: u.size, tenant, kind: u.role });
    return await submitAudit(s, tenant, parsed.data, idempotencyKey);
  } catch (err) {
    const fresh = uploaded.filter((u) => u.newForTenant).map((u) => u.digest);
    await forgetBlobs(s.store, s.blobs, tenant, fresh).catch((cleanupErr: unknown) =>
      s.logger.error({ err: cleanupErr }, "could not discard the blobs of a refused submission"),
    );
    throw err;
  }
}
