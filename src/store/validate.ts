/**
 * Argument checks shared by store implementations. The HTTP layer validates requests first; these
 * guard the store's own invariants (and the CLI, which calls the store directly).
 */
import { SslmemError } from "../core/errors.ts";
import { AUDIT_INPUT_ROLES, AUDIT_STATES, type ResultFilter, type ResultRow } from "./types.ts";

/** Page sizes the store accepts (the HTTP layer may allow less). */
export const MAX_LIST_LIMIT = 1000;
export const MAX_RESULTS_LIMIT = 10_000;

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === "string" && DIGEST_PATTERN.test(value);
}

export function assertDigest(value: unknown, what = "digest"): asserts value is string {
  if (!isDigest(value)) {
    throw new SslmemError("validation_failed", `${what} must be "sha256:" followed by 64 lowercase hex characters`);
  }
}

export function assertTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) {
    throw new SslmemError(
      "validation_failed",
      "tenant must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }
}

export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length < 1 || key.length > 255) {
    throw new SslmemError("validation_failed", "Idempotency-Key must be 1–255 characters");
  }
}

export function assertLimit(limit: unknown, max: number): asserts limit is number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new SslmemError("validation_failed", `limit must be an integer from 1 to ${max}`);
  }
}

export function assertFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) {
    // SQLite stores NaN as NULL and JSON cannot carry it: refuse rather than lose it silently.
    throw new SslmemError("internal", `${what} must be a finite number`);
  }
}

/** Turns a result filter into query parameters (role or null, flaggedOnly as 0/1). */
export function filterParams(filter: ResultFilter | undefined): { role: string | null; flaggedOnly: 0 | 1 } {
  const role = filter?.role ?? null;
  if (role !== null && role !== "candidate" && role !== "control") {
    throw new SslmemError("validation_failed", "role must be 'candidate' or 'control'");
  }
  return { role, flaggedOnly: filter?.flaggedOnly ? 1 : 0 };
}

export function assertAuditStates(states: readonly string[]): void {
  for (const s of states) {
    if (!(AUDIT_STATES as readonly string[]).includes(s)) {
      throw new SslmemError("validation_failed", `unknown audit state '${s}'`);
    }
  }
}

export function assertInputRoles(roles: readonly string[]): void {
  for (const r of roles) {
    if (!(AUDIT_INPUT_ROLES as readonly string[]).includes(r)) {
      throw new SslmemError("validation_failed", `unknown audit input '${r}'`);
    }
  }
}

export function assertResultRow(row: ResultRow): void {
  if (!Number.isSafeInteger(row.index) || row.index < 0) {
    throw new SslmemError("internal", "result index must be a non-negative integer");
  }
  if (typeof row.id !== "string" || row.id.length === 0) {
    throw new SslmemError("internal", `result ${row.index} has no point id`);
  }
  if (row.role !== "candidate" && row.role !== "control") {
    throw new SslmemError("internal", `result ${row.index} has an unknown role`);
  }
  assertFinite(row.alignTarget, `alignTarget of result ${row.index}`);
  assertFinite(row.alignReference, `alignReference of result ${row.index}`);
  assertFinite(row.score, `score of result ${row.index}`);
  assertFinite(row.stdErr, `stdErr of result ${row.index}`);
  if (!Number.isSafeInteger(row.pairs) || row.pairs < 0) {
    throw new SslmemError("internal", `pairs of result ${row.index} must be a non-negative integer`);
  }
}
