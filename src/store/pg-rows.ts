/**
 * Rows of the PostgreSQL schema and their mapping to the store's records. The pool's type parsers
 * (pgTypes below) already turn BIGINT into numbers and `json` into values, so mapping is renaming,
 * ms → ISO strings, and leaving out batch-level result fields that are still NULL.
 */
import pg from "pg";
import type { PointRole } from "../core/image.ts";
import type { AuditInputs, AuditProgress, AuditRecord, AuditState, JsonObject, StoredResult } from "./types.ts";

const INT8_OID = 20;

/**
 * BIGINT as a JS number instead of pg's default string: every BIGINT here is a millisecond time,
 * a result index, a count or a seq, all far below 2^53. Scoped to the store's pool (no global
 * parser change for other pg users in the process).
 */
export function pgTypes(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, "text", (value: string) => Number(value));
  return types;
}

export interface PgAuditRow {
  id: string;
  tenant: string;
  state: AuditState;
  config: JsonObject;
  inputs: AuditInputs;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress: AuditProgress | null;
  summary: JsonObject | null;
  error: JsonObject | null;
  report: JsonObject | null;
  attempt: number;
  inputs_purged_at: number | null;
}

export interface PgResultRow {
  idx: number;
  point_id: string;
  role: PointRole;
  align_target: number;
  align_reference: number;
  score: number;
  std_err: number;
  pairs: number;
  score_normalized: number | null;
  p_value: number | null;
  flagged: boolean | null;
}

export const AUDIT_COLUMNS =
  "id, tenant, state, config, inputs, idempotency_key, request_hash, created_at, updated_at, started_at, " +
  "finished_at, progress, summary, error, report, attempt, inputs_purged_at";

export const RESULT_COLUMNS =
  "idx, point_id, role, align_target, align_reference, score, std_err, pairs, score_normalized, p_value, flagged";

/** The result filter with its two parameters at positions `roleParam` and `roleParam + 1`. */
export function resultFilter(roleParam: number): string {
  return `($${roleParam}::text IS NULL OR role = $${roleParam}) AND (NOT $${roleParam + 1}::boolean OR flagged IS TRUE)`;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toAudit(row: PgAuditRow): AuditRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    state: row.state,
    config: row.config,
    inputs: row.inputs,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    progress: row.progress,
    summary: row.summary,
    error: row.error,
    report: row.report,
    attempt: row.attempt,
    inputsPurgedAt: iso(row.inputs_purged_at),
  };
}

export function toResult(row: PgResultRow): StoredResult {
  const result: StoredResult = {
    index: row.idx,
    id: row.point_id,
    role: row.role,
    alignTarget: row.align_target,
    alignReference: row.align_reference,
    score: row.score,
    stdErr: row.std_err,
    pairs: row.pairs,
  };
  if (row.score_normalized !== null) result.scoreNormalized = row.score_normalized;
  if (row.p_value !== null) result.pValue = row.p_value;
  if (row.flagged !== null) result.flagged = row.flagged;
  return result;
}
