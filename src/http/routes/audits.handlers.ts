/** Audit resource handlers. Every lookup is scoped to the caller's tenant: others' audits are 404. */
import type { Context } from "hono";
import type { RouteHandler } from "@hono/zod-openapi";
import { SslmemError } from "../../core/errors.ts";
import { deleteAuditAndInputs } from "../../jobs/purge.ts";
import { TERMINAL_STATES } from "../../core/audit-states.ts";
import type { AuditRecord } from "../../store/types.ts";
import { auditPath, toAuditResource } from "../audit-resource.ts";
import type { AppEnv, AppServices } from "../context.ts";
import { validationError } from "../../core/problem.ts";
import { AuditIdSchema } from "../schemas.ts";
import { acquireUploadSlot } from "./blobs.handlers.ts";
import { assertQueueHasRoom, isJson, isMultipart, submitAudit, submitMultipartAudit } from "./audit-submission.ts";
import type { SubmitAuditRequest, createAudit, deleteAudit, getAudit, listAudits } from "./audits.routes.ts";
import { assertAuditQuota, remainingBlobQuota } from "../tenant-quota.ts";

/** The caller's audit, or 404 — the same answer whether it does not exist or is someone else's. */
export async function findAudit(s: AppServices, tenant: string, id: string): Promise<AuditRecord> {
  const audit = await s.store.getAudit(tenant, id);
  if (!audit) throw new SslmemError("not_found", `you have no audit ${id}`);
  return audit;
}

export const create: RouteHandler<typeof createAudit, AppEnv> = async (c) => {
  const s = c.var.services;
  const tenant = c.var.tenant;
  const idempotencyKey = c.req.valid("header")["idempotency-key"];
  // Checked before reading the body: a full queue costs the client one round trip, not an upload.
  // Not for a request with an Idempotency-Key: it may replay an accepted audit, which is answered
  // even while the queue is full (the store decides, atomically, in createAudit).
  if (idempotencyKey === undefined) assertQueueHasRoom(s);
  if (idempotencyKey === undefined) await assertAuditQuota(s, tenant);
  let result;
  if (isMultipart(c.req.header("content-type"))) {
    const release = acquireUploadSlot(s, tenant);
    try {
      await remainingBlobQuota(s, tenant); // a tenant at its quota uploads nothing more
      result = await submitMultipartAudit(s, tenant, c.req.raw, idempotencyKey);
    } finally {
      release();
    }
  } else {
    // Any other media type (e.g. a form) would reach submitAudit unvalidated: the route's JSON
    // validator only runs for JSON bodies.
    if (!isJson(c.req.header("content-type"))) {
      throw new SslmemError("unsupported_media_type", "send the audit as application/json or multipart/form-data");
    }
    // The multipart content is described by a plain JSON schema (a zod one would make zod-openapi
    // buffer the whole upload), which hides the json input from the route's typings.
    const body = (c.req.valid as (target: "json") => SubmitAuditRequest).call(c.req, "json");
    result = await submitAudit(s, tenant, body, idempotencyKey);
  }
  const headers = { Location: auditPath(result.audit.id), ...(result.created ? {} : { "Idempotent-Replayed": "true" }) };
  const body = toAuditResource(result.audit);
  return result.created ? c.json(body, 202, headers) : c.json(body, 200, headers);
};

export const list: RouteHandler<typeof listAudits, AppEnv> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const page = await c.var.services.store.listAudits(c.var.tenant, { limit, cursor: cursor ?? null });
  return c.json({ items: page.items.map((a) => toAuditResource(a)), nextCursor: page.nextCursor }, 200);
};

export const get: RouteHandler<typeof getAudit, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  return c.json(toAuditResource(audit, await s.store.auditLayers(audit.id)), 200);
};

/**
 * POST /v1/audits/{id}:cancel, mounted on a regex route (see audits.index.ts), so the id is
 * validated here with the same schema the contract documents.
 */
export async function cancel(c: Context<AppEnv>): Promise<Response> {
  const raw = (c.req.param("idAction") ?? "").replace(/:cancel$/, "");
  const parsed = AuditIdSchema.safeParse(raw);
  if (!parsed.success) {
    throw validationError("the request path is invalid", [{ path: "id", message: parsed.error.issues[0].message, location: "path" }]);
  }
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, parsed.data);
  if (audit.state === "cancelled") return c.json(toAuditResource(audit), 200);
  if (TERMINAL_STATES.includes(audit.state)) {
    throw new SslmemError("conflict", `the audit already ${audit.state}; only a queued or running audit can be cancelled`, {
      state: audit.state,
    });
  }
  await s.runner.cancel(audit.id);
  const after = await findAudit(s, c.var.tenant, audit.id);
  return c.json(toAuditResource(after), after.state === "cancelled" ? 200 : 202);
}

export const remove: RouteHandler<typeof deleteAudit, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  if (!TERMINAL_STATES.includes(audit.state)) await s.runner.cancel(audit.id);
  if (!(await deleteAuditAndInputs(s.store, s.blobs, c.var.tenant, audit.id))) {
    throw new SslmemError("not_found", `you have no audit ${audit.id}`);
  }
  s.notifier.notify(audit.id); // open event streams end
  return c.body(null, 204);
};
