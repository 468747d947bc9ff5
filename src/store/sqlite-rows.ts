/**
 * Rows of the SQLite schema and their mapping to the store's records: INTEGER milliseconds become
 * ISO strings, TEXT JSON is parsed, and batch-level result fields that are still NULL are left out.
 */
import type { PointRole } from "../core/image.ts";
import type { AuditInputs, AuditProgress, AuditRecord, AuditState, JsonObject, StoredResult } from "./types.ts";

export interface AuditRow {
  id: string;
  tenant: string;
  state: AuditState;
  config: string;
  inputs: string;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress: string | null;
  summary: string | null;
  error: string | null;
  report: string | null;
  attempt: number;
  inputs_purged_at: number | null;
}

export interface ResultDbRow {
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
  flagged: number | null;
}

export const RESULT_COLUMNS =
  "idx, point_id, role, align_target, align_reference, score, std_err, pairs, score_normalized, p_value, flagged";
export const RESULT_FILTER = "(@role IS NULL OR role = @role) AND (@flaggedOnly = 0 OR flagged = 1)";

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toAudit(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    state: row.state,
    config: JSON.parse(row.config) as JsonObject,
    inputs: JSON.parse(row.inputs) as AuditInputs,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    progress: parseJson<AuditProgress>(row.progress),
    summary: parseJson<JsonObject>(row.summary),
    error: parseJson<JsonObject>(row.error),
    report: parseJson<JsonObject>(row.report),
    attempt: row.attempt,
    inputsPurgedAt: iso(row.inputs_purged_at),
  };
}

export function toResult(row: ResultDbRow): StoredResult {
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
  if (row.flagged !== null) result.flagged = row.flagged === 1;
  return result;
}
