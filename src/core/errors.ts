/**
 * One error type for the whole service. Every failure a user can act on carries a stable,
 * machine-readable `code` (documented, never renamed) and a message that says what to fix.
 * The HTTP layer maps codes to statuses; the CLI prints `code: message` and exits 1.
 */
export const ERROR_CODES = {
  // inputs of an audit
  invalid_config: 422,
  invalid_policy: 422,
  model_not_found: 422,
  model_invalid: 422,
  model_unsupported: 422,
  model_output_invalid: 422,
  encoders_incompatible: 422,
  preprocessing_required: 422,
  candidates_not_found: 422,
  candidates_empty: 422,
  image_invalid: 422,
  image_too_large: 422,
  archive_invalid: 422,
  archive_unsafe: 422,
  archive_too_large: 422,
  too_many_points: 422,
  controls_required: 422,
  point_id_too_long: 422,
  // budgets of a running audit: the tenant's model or data caused it
  audit_timeout: 422,
  resource_exhausted: 422,
  // model and data references (registries, pinned URLs): the input, not the service, is at fault
  source_invalid: 422,
  source_not_allowed: 422,
  source_unreachable: 422,
  source_auth_failed: 422,
  source_not_found: 422,
  source_ambiguous: 422,
  source_too_large: 422,
  /** The audit was running each time the process died, SSLMEM_MAX_AUDIT_CRASHES times: not resumed again. */
  crash_loop: 422,
  /** An operator failed the audit (`sslmem admin audits fail`). */
  failed_by_operator: 422,
  // HTTP-level
  validation_failed: 400,
  unsupported_media_type: 415,
  not_acceptable: 406,
  request_timeout: 408,
  payload_too_large: 413,
  digest_mismatch: 422,
  blob_not_found: 422,
  idempotency_conflict: 422,
  unauthorized: 401,
  /** the CLI's name for a 401 from a server: the token given (or missing) is what to fix */
  invalid_token: 401,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  audit_not_finished: 409,
  queue_full: 429,
  quota_exceeded: 429,
  cancelled: 409,
  // internal (5xx: message never shown to clients)
  engine_failure: 500,
  store_failure: 500,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SslmemError extends Error {
  readonly code: ErrorCode;
  /** Optional structured detail safe to show to users (never paths or stacks). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SslmemError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function isSslmemError(e: unknown): e is SslmemError {
  return e instanceof SslmemError;
}
