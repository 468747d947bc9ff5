/**
 * The database's rows and their mapping to the store's records, for both dialects. Columns are
 * the same in SQLite and PostgreSQL; what differs is how a JSON column arrives (text in SQLite, a
 * parsed value from pg's `json` type parser) and how `flagged` does (0/1 or a boolean). Times are
 * integer milliseconds and become ISO strings; batch-level result fields still NULL are left out.
 */
import type { AuditState } from "../core/audit-states.ts";
import { isAuditKind, type AuditKind } from "../core/audit-kind.ts";
import { SslmemError } from "../core/errors.ts";
import type { PointRole } from "../core/image.ts";
import type { LayerDescription } from "../core/layermem.ts";
import type { LayerScore } from "../core/scores.types.ts";
import type { AuditInputs, AuditProgress, AuditRecord, JsonObject, StoredEvent, StoredResult, TokenInfo } from "./types.ts";

/** An audit row; `J` is how the dialect delivers a JSON column. */
export interface AuditRow<J> {
  id: string;
  tenant: string;
  kind: string;
  state: AuditState;
  config: J;
  inputs: J;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress: J | null;
  summary: J | null;
  error: J | null;
  report: J | null;
  attempt: number;
  crashes: number;
  inputs_purged_at: number | null;
}

export interface ResultRowOf {
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
  flagged: number | boolean | null;
}

/** One point's score on one layer (audit_result_layers). */
export interface LayerScoreRowOf {
  idx: number;
  layer: number;
  align_target: number;
  align_reference: number;
  score: number;
  std_err: number;
}

/** One measured layer of an audit (audit_layers); `J` is how the dialect delivers a JSON column. */
export interface LayerRowOf<J> {
  layer: number;
  name: string;
  target: string;
  reference: string;
  final: number | boolean;
  shape: J;
  dim: number;
}

export interface EventRow<J> {
  seq: number;
  type: string;
  data: J;
  created_at: number;
}

export interface TokenRow {
  id: string;
  tenant: string;
  created_at: number;
  revoked_at: number | null;
}

export const AUDIT_COLUMNS =
  "id, tenant, kind, state, config, inputs, idempotency_key, request_hash, created_at, updated_at, started_at, " +
  "finished_at, progress, summary, error, report, attempt, crashes, inputs_purged_at";

export const RESULT_COLUMNS =
  "idx, point_id, role, align_target, align_reference, score, std_err, pairs, score_normalized, p_value, flagged";

export const LAYER_SCORE_COLUMNS = "idx, layer, align_target, align_reference, score, std_err";
export const LAYER_COLUMNS = "layer, name, target, reference, final, shape, dim";

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** Reads a JSON column the dialect's way (SQLite: JSON.parse of the text; PostgreSQL: already parsed). */
export type JsonColumn<J> = (value: J) => unknown;

/** The column's CHECK allows only the known kinds: anything else is a schema bug, never guessed. */
function auditKind(value: string): AuditKind {
  if (!isAuditKind(value)) throw new SslmemError("internal", `an audit row has the unknown kind '${value}'`);
  return value;
}

export function toAudit<J>(row: AuditRow<J>, json: JsonColumn<J>): AuditRecord {
  const object = (value: J | null) => (value === null ? null : (json(value) as JsonObject));
  return {
    id: row.id,
    tenant: row.tenant,
    kind: auditKind(row.kind),
    state: row.state,
    config: json(row.config) as JsonObject,
    inputs: json(row.inputs) as AuditInputs,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    progress: row.progress === null ? null : (json(row.progress) as AuditProgress),
    summary: object(row.summary),
    error: object(row.error),
    report: object(row.report),
    attempt: row.attempt,
    crashes: row.crashes,
    inputsPurgedAt: isoOrNull(row.inputs_purged_at),
  };
}

export function toResult(row: ResultRowOf): StoredResult {
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
  if (row.flagged !== null) result.flagged = row.flagged === true || row.flagged === 1;
  return result;
}

export function toLayerScore(row: LayerScoreRowOf): LayerScore {
  return { alignTarget: row.align_target, alignReference: row.align_reference, score: row.score, stdErr: row.std_err };
}

export function toLayer<J>(row: LayerRowOf<J>, json: JsonColumn<J>): LayerDescription {
  return {
    name: row.name,
    target: row.target,
    reference: row.reference,
    final: row.final === true || row.final === 1,
    shape: json(row.shape) as number[],
    dim: row.dim,
  };
}

/**
 * Attaches the layer rows (ordered by index, then layer) to their results: `layers[i]` is the
 * point's score on layer i. A result without layer rows is left as is.
 */
export function attachLayerScores(results: readonly StoredResult[], rows: readonly LayerScoreRowOf[]): StoredResult[] {
  const byIndex = new Map<number, LayerScore[]>();
  for (const row of rows) {
    let scores = byIndex.get(row.idx);
    if (!scores) byIndex.set(row.idx, (scores = []));
    scores[row.layer] = toLayerScore(row);
  }
  return results.map((r) => {
    const layers = byIndex.get(r.index);
    return layers ? { ...r, layers } : r;
  });
}

export function toEvent<J>(row: EventRow<J>, json: JsonColumn<J>): StoredEvent {
  return { seq: row.seq, type: row.type, data: json(row.data) as JsonObject, createdAt: iso(row.created_at) };
}

export function toTokenInfo(row: TokenRow): TokenInfo {
  return { id: row.id, tenant: row.tenant, createdAt: iso(row.created_at), revokedAt: isoOrNull(row.revoked_at) };
}
