/**
 * Watch resource handlers (tenant-scoped: another tenant's watch is 404) and the outbox view of
 * an audit. The webhook receivers are hooks.handlers.ts.
 */
import { randomBytes } from "node:crypto";
import type { RouteHandler } from "@hono/zod-openapi";
import { SslmemError } from "../../core/errors.ts";
import type { WatchRecord } from "../../store/watch-types.ts";
import type { AppEnv, AppServices } from "../context.ts";
import { findAudit } from "./audits.handlers.ts";
import type { createWatch, deleteWatch, getWatch, listDeliveries, listWatches } from "./watches.routes.ts";

export function hookPath(watch: Pick<WatchRecord, "id" | "kind">): string | null {
  return watch.kind === "oci" ? null : `/v1/hooks/${watch.kind}/${watch.id}`;
}

function toWatchResource(w: WatchRecord) {
  return { id: w.id, kind: w.kind, spec: w.spec, createdAt: w.createdAt, hook: hookPath(w) };
}

async function findWatch(s: AppServices, tenant: string, id: string): Promise<WatchRecord> {
  const watch = await s.store.getWatch(tenant, id);
  if (!watch) throw new SslmemError("not_found", `you have no watch ${id}`);
  return watch;
}

/** Inputs given as digests must be the tenant's now (as POST /v1/audits checks), not when a version arrives. */
async function assertOwnsDigests(s: AppServices, tenant: string, spec: { reference: string; candidates: string; controls?: string | undefined }): Promise<void> {
  for (const role of ["reference", "candidates", "controls"] as const) {
    const value = spec[role];
    if (value === undefined || !/^sha256:[0-9a-f]{64}$/.test(value)) continue;
    if (!(await s.store.tenantHasBlob(tenant, value))) {
      throw new SslmemError("blob_not_found", `the ${role} blob ${value} has not been uploaded; PUT it to /v1/blobs/${value} first`, {
        errors: [{ path: role, message: "you have not uploaded a blob with this digest", location: "body" }],
      });
    }
  }
}

export const create: RouteHandler<typeof createWatch, AppEnv> = async (c) => {
  const spec = c.req.valid("json");
  await assertOwnsDigests(c.var.services, c.var.tenant, spec);
  // 32 random bytes: the HMAC key MLflow signs with, or the secret Hugging Face sends back.
  const secret = randomBytes(32).toString("base64url");
  const watch = await c.var.services.store.createWatch({ tenant: c.var.tenant, kind: spec.subject.kind, spec, secret });
  return c.json({ ...toWatchResource(watch), secret }, 201, { Location: `/v1/watches/${watch.id}` });
};

export const list: RouteHandler<typeof listWatches, AppEnv> = async (c) => {
  const items = await c.var.services.store.listWatches(c.var.tenant);
  return c.json({ items: items.map(toWatchResource) }, 200);
};

export const get: RouteHandler<typeof getWatch, AppEnv> = async (c) => {
  return c.json(toWatchResource(await findWatch(c.var.services, c.var.tenant, c.req.valid("param").id)), 200);
};

export const remove: RouteHandler<typeof deleteWatch, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  if (!(await c.var.services.store.deleteWatch(c.var.tenant, id))) throw new SslmemError("not_found", `you have no watch ${id}`);
  return c.body(null, 204);
};

export const deliveries: RouteHandler<typeof listDeliveries, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  const rows = await s.store.deliveriesOfAudit(audit.id);
  return c.json({ items: rows.map((d) => ({ kind: d.kind, state: d.state, attempts: d.attempts, lastError: d.lastError, updatedAt: d.updatedAt })) }, 200);
};
