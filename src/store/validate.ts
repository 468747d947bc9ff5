/**
 * Argument checks shared by store implementations. The HTTP layer validates requests first; these
 * guard the store's own invariants (and the CLI, which calls the store directly).
 */
import { SslmemError } from "../core/errors.ts";

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
