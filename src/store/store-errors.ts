/**
 * The store's errors, made once for both dialects: driver failures become `store_failure` (the
 * driver's error kept as `cause`, for the log only), and the domain refusals a transaction can
 * end in have one message each.
 */
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { AuditInputRole } from "./types.ts";

/** Runs a store operation; a driver error (disk full, I/O, closed connection) becomes `store_failure`. */
export async function guard<T>(operation: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isSslmemError(e)) throw e;
    throw new SslmemError("store_failure", `the store could not ${operation}`, undefined, { cause: e });
  }
}

export const deletedAudit = (auditId: string): SslmemError =>
  new SslmemError("not_found", "the audit no longer exists (it was deleted)", { auditId });

export const idempotencyConflict = (auditId: string): SslmemError =>
  new SslmemError(
    "idempotency_conflict",
    "this Idempotency-Key was already used with a different request; send the same request again or use a new key",
    { auditId },
  );

export const blobNotUploaded = (role: AuditInputRole, digest: string): SslmemError =>
  new SslmemError("blob_not_found", `the ${role} blob ${digest} has not been uploaded; PUT it to /v1/blobs/${digest} first`, {
    input: role,
    digest,
  });

export const queueFull = (maxQueued: number): SslmemError =>
  new SslmemError("queue_full", `${maxQueued} audits are already waiting; retry later`, { maxQueued });

/** Thrown inside finalizeResults' transaction, so that the whole batch rolls back. */
export const neverStored = (index: number | undefined, auditId: string): SslmemError =>
  new SslmemError("internal", `cannot finalize result ${index}: it was never stored`, { auditId });

export const schemaTooNew = (current: number, latest: number): SslmemError =>
  new SslmemError("store_failure", `the database has schema version ${current} but this sslmem knows only up to ${latest}; upgrade sslmem`);

/** The migrations still to apply over `current`, in order; refuses a database newer than this code. */
export function pendingMigrations<M extends { version: number }>(migrations: readonly M[], current: number): M[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  const latest = sorted.length ? sorted[sorted.length - 1].version : 0;
  if (current > latest) throw schemaTooNew(current, latest);
  return sorted.filter((m) => m.version > current);
}

/**
 * The per-tenant share of the queue: one tenant may not hold every queued slot, so a burst from
 * one tenant cannot push every other tenant into `queue_full`.
 */
export const tenantQueueFull = (maxQueuedPerTenant: number): SslmemError =>
  new SslmemError("queue_full", `you already have ${maxQueuedPerTenant} audits waiting (this server's share per tenant); retry when one has started`, {
    maxQueuedPerTenant,
  });
