/**
 * The scaled-mode store: PostgreSQL through a `pg` connection pool, shared by API replicas and
 * worker processes: the PostgreSQL dialect under CheckedStore (checked-store.ts), which it shares
 * with the embedded SqliteStore (test/store/store-contract.ts runs against both). What differs is
 * how races between processes are settled, since there is no single write lock:
 *
 * - createAudit: the unique constraint (tenant, idempotency_key) decides. INSERT … ON CONFLICT DO
 *   NOTHING waits for a concurrent insert of the same key to commit, and the loser then returns
 *   the winner's audit (READ COMMITTED: the next statement sees the committed row).
 * - transition: one guarded UPDATE … WHERE state = ANY($from); the row lock makes it atomic.
 * - appendEvent: the seq counter is a column of the audit row, incremented in the event's own
 *   transaction. The row lock is held until commit, so seqs are gap-free and commit in seq order:
 *   an SSE reader polling "after seq N" can never miss a lower seq that commits later.
 * - appendResults / finalizeResults: one transaction per batch; rows are written in index order so
 *   two workers retrying the same shard lock rows in the same order (no deadlock), and a deadlock
 *   or serialization failure is retried anyway.
 * - blob ownership: createAudit locks the owner rows FOR SHARE, forgetBlob FOR UPDATE, so an audit
 *   that references a blob and the forgetting of that blob serialize.
 *
 * Times come from the injected clock (ms, BIGINT), as in SQLite; the server's clock is not used.
 * Unlike SQLite's secure_delete, PostgreSQL leaves deleted tuples on disk until VACUUM reuses
 * them: encrypt the volume if point ids are sensitive.
 */
import { PgDeliverySql, PgWatchSql } from "./pg-deliveries.ts";
import { PgUnitResultSql } from "./pg-unit-results.ts";
import pg from "pg";
import type { AuditState } from "../core/audit-states.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { CheckedStore } from "./checked-store.ts";
import type { InsertAuditOutcome, NewAudit, StateChange, StoreDialect } from "./dialect.ts";
import { PG_MIGRATIONS, applyPgMigrations, assertSchemaName, type PgMigration } from "./pg-migrations.ts";
import {
  AUDIT_COLUMNS,
  LAYER_COLUMNS,
  LAYER_SCORE_COLUMNS,
  RESULT_COLUMNS,
  toAudit,
  toEvent,
  toLayer,
  toResult,
  type AuditRow,
  type EventRow,
  type LayerRowOf,
  type LayerScoreRowOf,
  type ResultRowOf,
  type TokenRow,
} from "./rows.ts";
import type { LayerDescription } from "../core/layermem.ts";
import { guard, neverStored } from "./store-errors.ts";
import { AUDIT_INPUT_ROLES } from "./types.ts";
import type { AuditInputRole, AuditProgress, AuditRecord, BlobRecordInput, ForgetBlobResult, JsonObject, ResultFinalization, ResultRow, StoredEvent, StoredResult } from "./types.ts";
import type { ResultQuery } from "./validate.ts";

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database (sslmode etc. as URL parameters). */
  connectionString: string;
  /** Schema to use (created if missing); default: the connection's search_path. */
  schema?: string;
  /** Clock in ms since the epoch (tests inject one). */
  now?: () => number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before failing (default 5000). */
  connectionTimeoutMs?: number;
  /** Shown in pg_stat_activity (default "sslmem"). */
  applicationName?: string;
  /** Migrations to apply (tests of the migration runner pass their own). */
  migrations?: readonly PgMigration[];
  /** Errors of idle pooled connections (server restart, network); the pool replaces them. */
  onIdleError?: (err: Error) => void;
}

/** Rows per statement inside a batch transaction (each column travels as one array parameter). */
const WRITE_CHUNK = 5000;
const TX_ATTEMPTS = 3;
const RETRYABLE_CODES = new Set(["40001", "40P01"]); // serialization_failure, deadlock_detected
const HEALTH_TIMEOUT_MS = 5000;
/** pg_advisory_xact_lock key of audit admission (createAudit with maxQueued); any fixed bigint. */
const ADMISSION_LOCK = 0x55_4d_51; // "UMQ"
const INT8_OID = 20;

type Queryable = Pick<pg.ClientBase, "query">;

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

function isRetryable(e: unknown): boolean {
  return !isSslmemError(e) && RETRYABLE_CODES.has(String((e as { code?: unknown })?.code));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** JSON columns arrive parsed (pg's `json` type parser). */
const json = (value: unknown): unknown => value;
const audit = (row: AuditRow<unknown>): AuditRecord => toAudit(row, json);
const jsonParam = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));
/** The result filter with its two parameters at positions `roleParam` and `roleParam + 1`. */
function resultFilter(roleParam: number): string {
  return `($${roleParam}::text IS NULL OR role = $${roleParam}) AND (NOT $${roleParam + 1}::boolean OR flagged IS TRUE)`;
}

class PgDialect implements StoreDialect {
  readonly #pool: pg.Pool;
  #closed = false;
  readonly deliveries: PgDeliverySql;
  readonly watches: PgWatchSql;
  readonly units: PgUnitResultSql;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    const query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => this.query<R>(sql, params);
    this.deliveries = new PgDeliverySql(query);
    this.watches = new PgWatchSql(query);
    this.units = new PgUnitResultSql((sql, params, on) => this.query(sql, params, on), (fn) => this.#transaction(fn));
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], on: Queryable = this.#pool) {
    return on.query<R>(sql, params);
  }

  /** Runs `fn` in one transaction on one pooled connection; retries deadlocks and serialization failures. */
  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const out = await fn(client);
        await client.query("COMMIT");
        return out;
      } catch (e) {
        // A connection that cannot even roll back is discarded rather than returned to the pool.
        await client.query("ROLLBACK").catch((err: Error) => (broken = err));
        if (attempt < TX_ATTEMPTS && isRetryable(e)) continue;
        throw e;
      } finally {
        client.release(broken);
      }
    }
  }

  // tokens
  async insertToken(t: { id: string; tenant: string; hash: Buffer; now: number }): Promise<void> {
    await this.query("INSERT INTO tokens (id, tenant, hash, created_at) VALUES ($1, $2, $3, $4)", [t.id, t.tenant, t.hash, t.now]);
  }
  async activeTokenByHash(hash: Buffer): Promise<{ id: string; tenant: string; hash: Buffer } | undefined> {
    const { rows } = await this.query<{ id: string; tenant: string; hash: Buffer }>("SELECT id, tenant, hash FROM tokens WHERE hash = $1 AND revoked_at IS NULL", [hash]);
    return rows[0];
  }
  async revokeToken(id: string, now: number): Promise<boolean> {
    return ((await this.query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [now, id])).rowCount ?? 0) > 0;
  }
  async tokensOfTenant(tenant: string): Promise<TokenRow[]> {
    return (await this.query<TokenRow>("SELECT id, tenant, created_at, revoked_at FROM tokens WHERE tenant = $1 ORDER BY id", [tenant])).rows;
  }

  // audits
  async insertAudit(a: NewAudit): Promise<InsertAuditOutcome> {
    const byKey = async (c: Queryable): Promise<AuditRecord | undefined> => {
      const { rows } = await this.query<AuditRow<unknown>>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = $1 AND idempotency_key = $2`, [a.tenant, a.idempotencyKey], c);
      return rows[0] ? audit(rows[0]) : undefined;
    };
    return this.#transaction(async (c): Promise<InsertAuditOutcome> => {
      if (a.idempotencyKey !== null) {
        const existing = await byKey(c);
        if (existing) return { kind: "existing", audit: existing };
      }
      const roles = AUDIT_INPUT_ROLES.filter((role) => a.inputs[role] !== undefined);
      const digests = roles.map((role) => a.inputs[role]);
      // FOR SHARE: a concurrent forgetBlob of one of these waits until this audit references it.
      const owned = await this.query<{ digest: string }>("SELECT digest FROM blobs WHERE tenant = $1 AND digest = ANY($2::text[]) FOR SHARE", [a.tenant, digests], c);
      const ownedDigests = new Set(owned.rows.map((r) => r.digest));
      for (const role of roles) {
        const digest = a.inputs[role];
        if (digest !== undefined && !ownedDigests.has(digest)) return { kind: "blob_missing", role, digest };
      }
      if (a.maxQueued !== undefined) {
        // Admission control: the lock (held to commit) serializes admissions across replicas,
        // so two transactions cannot both see room for the last queued audit.
        await this.query("SELECT pg_advisory_xact_lock($1)", [ADMISSION_LOCK], c);
        const { rows: queued } = await this.query<{ n: number }>("SELECT count(*)::int AS n FROM audits WHERE state = 'queued'", [], c);
        if (queued[0].n >= a.maxQueued) return { kind: "queue_full" };
      }
      if (a.maxQueuedPerTenant !== undefined) {
        await this.query("SELECT pg_advisory_xact_lock($1)", [ADMISSION_LOCK], c);
        const { rows: own } = await this.query<{ n: number }>("SELECT count(*)::int AS n FROM audits WHERE state = 'queued' AND tenant = $1", [a.tenant], c);
        if (own[0].n >= a.maxQueuedPerTenant) return { kind: "tenant_queue_full" };
      }
      // The event counter starts at the number of first events, numbered 1… below (appendEvent continues it).
      const inserted = await this.query<AuditRow<unknown>>(
        `INSERT INTO audits (id, tenant, state, config, inputs, idempotency_key, request_hash, created_at, updated_at, kind, last_event_seq)
         VALUES ($1, $2, 'queued', $3::json, $4::json, $5, $6, $7, $7, $8, $9)
         ON CONFLICT (tenant, idempotency_key) DO NOTHING
         RETURNING ${AUDIT_COLUMNS}`,
        [a.id, a.tenant, JSON.stringify(a.config), JSON.stringify(a.inputs), a.idempotencyKey, a.requestHash, a.now, a.kind, a.events.length],
        c,
      );
      if (inserted.rows.length === 0) {
        // Another replica committed the same key after our first look: its audit is the one.
        const winner = await byKey(c);
        if (!winner) throw new Error("idempotency key conflicted but no audit holds it");
        return { kind: "existing", audit: winner };
      }
      await this.query("INSERT INTO audit_blobs (audit_id, role, digest) SELECT $1, * FROM unnest($2::text[], $3::text[])", [a.id, roles, digests], c);
      if (a.events.length > 0) {
        await this.query(
          `INSERT INTO audit_events (audit_id, seq, type, data, created_at)
           SELECT $1, e.seq, e.type, e.data::json, $4 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(type, data, seq)`,
          [a.id, a.events.map((e) => e.type), a.events.map((e) => JSON.stringify(e.data)), a.now],
          c,
        );
      }
      await this.deliveries.insertForAudit(a.deliveries, a.now, c);
      if (a.settlesWatchTrigger) await this.watches.settleTriggerForAudit(a.settlesWatchTrigger, c);
      return { kind: "created", audit: audit(inserted.rows[0]) };
    });
  }
  async auditById(id: string, tenant?: string): Promise<AuditRecord | null> {
    const { rows } =
      tenant === undefined
        ? await this.query<AuditRow<unknown>>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = $1`, [id])
        : await this.query<AuditRow<unknown>>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = $1 AND tenant = $2`, [id, tenant]);
    return rows[0] ? audit(rows[0]) : null;
  }
  async auditsOfTenant(tenant: string, before: string | null, limit: number): Promise<AuditRecord[]> {
    // Ids compare in byte order: the column is COLLATE "C".
    const { rows } = await this.query<AuditRow<unknown>>(
      `SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = $1 AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [tenant, before, limit],
    );
    return rows.map(audit);
  }
  async auditsInStates(states: readonly AuditState[]): Promise<AuditRecord[]> {
    const { rows } = await this.query<AuditRow<unknown>>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE state = ANY($1::text[]) ORDER BY created_at, id`, [states]);
    return rows.map(audit);
  }
  async countByState(): Promise<{ state: AuditState; n: number }[]> {
    return (await this.query<{ state: AuditState; n: number }>("SELECT state, count(*) AS n FROM audits GROUP BY state")).rows;
  }
  async auditsFinishedBefore(before: number, limit: number): Promise<AuditRecord[]> {
    const { rows } = await this.query<AuditRow<unknown>>(
      `SELECT ${AUDIT_COLUMNS} FROM audits
       WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL AND finished_at < $1
       ORDER BY finished_at, id LIMIT $2`,
      [before, limit],
    );
    return rows.map(audit);
  }
  async changeState(c: StateChange): Promise<boolean> {
    const params: unknown[] = [c.id, c.to, c.now, c.entersRunning, c.entersTerminal, c.from, c.patch.countCrash === true];
    const sets: string[] = [];
    for (const column of ["progress", "summary", "error", "report"] as const) {
      const value = c.patch[column];
      if (value === undefined) continue;
      params.push(jsonParam(value));
      sets.push(`, ${column} = $${params.length}::json`);
    }
    // One guarded UPDATE: the row lock makes check-and-set atomic across processes.
    const r = await this.query(
      `UPDATE audits SET
         state = $2,
         updated_at = $3::bigint,
         started_at = CASE WHEN $4::boolean THEN coalesce(started_at, $3::bigint) ELSE started_at END,
         attempt = attempt + CASE WHEN $4::boolean THEN 1 ELSE 0 END,
         finished_at = CASE WHEN $5::boolean THEN $3::bigint ELSE finished_at END,
         crashes = crashes + CASE WHEN $7::boolean THEN 1 ELSE 0 END
         ${sets.join("")}
       WHERE id = $1 AND state = ANY($6::text[])`,
      params,
    );
    return (r.rowCount ?? 0) > 0;
  }
  async setProgress(id: string, progress: AuditProgress, now: number): Promise<boolean> {
    const r = await this.query("UPDATE audits SET progress = $1::json, updated_at = $2 WHERE id = $3 AND state = 'running'", [JSON.stringify(progress), now, id]);
    return (r.rowCount ?? 0) > 0;
  }
  async deleteAudit(tenant: string, id: string): Promise<boolean> {
    return ((await this.query("DELETE FROM audits WHERE id = $1 AND tenant = $2", [id, tenant])).rowCount ?? 0) > 0;
  }

  // results
  async upsertResults(auditId: string, batch: readonly ResultRow[]): Promise<boolean> {
    return this.#transaction(async (c) => {
      // KEY SHARE: a concurrent DELETE of the audit waits for this batch (then cascades it away).
      const found = await this.query("SELECT 1 FROM audits WHERE id = $1 FOR KEY SHARE", [auditId], c);
      if (found.rows.length === 0) return false;
      for (const part of chunks(batch, WRITE_CHUNK)) {
        // Upsert: a batch recomputed after a crash (or by a second worker after a stalled shard)
        // replaces its rows instead of duplicating them, and clears the batch-level fields.
        await this.query(
          `INSERT INTO audit_results (audit_id, idx, point_id, role, align_target, align_reference, score, std_err, pairs)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[],
                                    $8::float8[], $9::bigint[])
           ON CONFLICT (audit_id, idx) DO UPDATE SET
             point_id = excluded.point_id, role = excluded.role, align_target = excluded.align_target,
             align_reference = excluded.align_reference, score = excluded.score, std_err = excluded.std_err,
             pairs = excluded.pairs, score_normalized = NULL, p_value = NULL, flagged = NULL`,
          [
            auditId,
            part.map((r) => r.index),
            part.map((r) => r.id),
            part.map((r) => r.role),
            part.map((r) => r.alignTarget),
            part.map((r) => r.alignReference),
            part.map((r) => r.score),
            part.map((r) => r.stdErr),
            part.map((r) => r.pairs),
          ],
          c,
        );
        await this.#replaceLayerScores(c, auditId, part);
      }
      return true;
    });
  }
  /** A point's layer rows are replaced with it, in its transaction: the ones past its layer count go, the others are upserted. */
  async #replaceLayerScores(c: Queryable, auditId: string, part: readonly ResultRow[]): Promise<void> {
    await this.query(
      `DELETE FROM audit_result_layers l USING unnest($2::bigint[], $3::int[]) AS u (idx, n)
       WHERE l.audit_id = $1 AND l.idx = u.idx AND l.layer >= u.n`,
      [auditId, part.map((r) => r.index), part.map((r) => r.layers?.length ?? 0)],
      c,
    );
    const scores = part.flatMap((r) => (r.layers ?? []).map((l, layer) => ({ index: r.index, layer, ...l })));
    for (const rows of chunks(scores, WRITE_CHUNK)) {
      await this.query(
        `INSERT INTO audit_result_layers (audit_id, idx, layer, align_target, align_reference, score, std_err)
         SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::float8[], $5::float8[], $6::float8[], $7::float8[])
         ON CONFLICT (audit_id, idx, layer) DO UPDATE SET
           align_target = excluded.align_target, align_reference = excluded.align_reference,
           score = excluded.score, std_err = excluded.std_err`,
        [
          auditId,
          rows.map((r) => r.index),
          rows.map((r) => r.layer),
          rows.map((r) => r.alignTarget),
          rows.map((r) => r.alignReference),
          rows.map((r) => r.score),
          rows.map((r) => r.stdErr),
        ],
        c,
      );
    }
  }
  async countResults(auditId: string, q: ResultQuery): Promise<number> {
    const { rows } = await this.query<{ n: number }>(`SELECT count(*) AS n FROM audit_results WHERE audit_id = $1 AND ${resultFilter(2)}`, [auditId, q.role, q.flaggedOnly]);
    return rows[0].n;
  }
  async maxCommittedIndex(auditId: string): Promise<number | null> {
    return (await this.query<{ m: number | null }>("SELECT max(idx) AS m FROM audit_results WHERE audit_id = $1", [auditId])).rows[0].m;
  }
  async committedIndices(auditId: string, from: number | null, to: number | null): Promise<number[]> {
    const { rows } = await this.query<{ idx: number }>(
      `SELECT idx FROM audit_results WHERE audit_id = $1
       AND ($2::bigint IS NULL OR idx >= $2) AND ($3::bigint IS NULL OR idx < $3) ORDER BY idx`,
      [auditId, from, to],
    );
    return rows.map((r) => r.idx);
  }
  async finalizeResults(auditId: string, batch: readonly ResultFinalization[]): Promise<void> {
    await this.#transaction(async (c) => {
      for (const part of chunks(batch, WRITE_CHUNK)) {
        const indices = part.map((u) => u.index);
        const r = await this.query(
          `UPDATE audit_results r SET score_normalized = u.sn, p_value = u.pv, flagged = u.fl
           FROM unnest($2::bigint[], $3::float8[], $4::float8[], $5::boolean[]) AS u (idx, sn, pv, fl)
           WHERE r.audit_id = $1 AND r.idx = u.idx`,
          [auditId, indices, part.map((u) => u.scoreNormalized), part.map((u) => u.pValue ?? null), part.map((u) => u.flagged)],
          c,
        );
        if (r.rowCount !== part.length) {
          const missing = await this.query<{ idx: number }>(
            `SELECT u.idx FROM unnest($2::bigint[]) AS u (idx)
             WHERE NOT EXISTS (SELECT 1 FROM audit_results r WHERE r.audit_id = $1 AND r.idx = u.idx)
             ORDER BY u.idx LIMIT 1`,
            [auditId, indices],
            c,
          );
          // Throwing rolls the whole batch back, earlier chunks included.
          throw neverStored(missing.rows[0]?.idx, auditId);
        }
      }
    });
  }
  async resultsAfterIndex(auditId: string, q: ResultQuery, after: number, limit: number, offset: number): Promise<StoredResult[]> {
    const { rows } = await this.query<ResultRowOf>(
      `SELECT ${RESULT_COLUMNS} FROM audit_results
       WHERE audit_id = $1 AND idx > $2 AND ${resultFilter(3)}
       ORDER BY idx LIMIT $5 OFFSET $6`,
      [auditId, after, q.role, q.flaggedOnly, limit, offset],
    );
    return rows.map(toResult);
  }
  async resultsByScore(auditId: string, q: ResultQuery, limit: number, offset: number): Promise<StoredResult[]> {
    // NULLS LAST spelled out: PostgreSQL sorts NULLs first in DESC order, SQLite last.
    const { rows } = await this.query<ResultRowOf>(
      `SELECT ${RESULT_COLUMNS} FROM audit_results WHERE audit_id = $1 AND ${resultFilter(2)}
       ORDER BY score_normalized DESC NULLS LAST, idx LIMIT $4 OFFSET $5`,
      [auditId, q.role, q.flaggedOnly, limit, offset],
    );
    return rows.map(toResult);
  }

  async layerScoresOf(auditId: string, indices: readonly number[]): Promise<LayerScoreRowOf[]> {
    const { rows } = await this.query<LayerScoreRowOf>(
      `SELECT ${LAYER_SCORE_COLUMNS} FROM audit_result_layers WHERE audit_id = $1 AND idx = ANY($2::bigint[]) ORDER BY idx, layer`,
      [auditId, [...indices]],
    );
    return rows;
  }

  // layers
  async upsertLayers(auditId: string, layers: readonly LayerDescription[]): Promise<boolean> {
    return this.#transaction(async (c) => {
      const found = await this.query("SELECT 1 FROM audits WHERE id = $1 FOR KEY SHARE", [auditId], c);
      if (found.rows.length === 0) return false;
      // An upsert, not delete-then-insert: shards starting at once record the same layers
      // concurrently, and a plain insert would fail on the key the other just wrote.
      await this.query("DELETE FROM audit_layers WHERE audit_id = $1 AND layer >= $2", [auditId, layers.length], c);
      await this.query(
        `INSERT INTO audit_layers (audit_id, ${LAYER_COLUMNS})
         SELECT $1, u.layer, u.name, u.target, u.reference, u.final, u.shape::json, u.dim
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::bigint[])
           AS u (layer, name, target, reference, final, shape, dim)
         ON CONFLICT (audit_id, layer) DO UPDATE SET
           name = excluded.name, target = excluded.target, reference = excluded.reference,
           final = excluded.final, shape = excluded.shape, dim = excluded.dim`,
        [
          auditId,
          layers.map((_, i) => i),
          layers.map((l) => l.name),
          layers.map((l) => l.target),
          layers.map((l) => l.reference),
          layers.map((l) => l.final),
          layers.map((l) => JSON.stringify(l.shape)),
          layers.map((l) => l.dim),
        ],
        c,
      );
      return true;
    });
  }
  async layersOf(auditId: string): Promise<LayerDescription[]> {
    const { rows } = await this.query<LayerRowOf<unknown>>(`SELECT ${LAYER_COLUMNS} FROM audit_layers WHERE audit_id = $1 ORDER BY layer`, [auditId]);
    return rows.map((row) => toLayer(row, json));
  }

  // events
  async appendEvent(auditId: string, type: string, data: JsonObject, now: number): Promise<number | null> {
    return this.#transaction(async (c) => {
      // The UPDATE locks the audit row until COMMIT: concurrent appenders (any process) queue
      // here, so seqs are gap-free and become visible in seq order.
      const bumped = await this.query<{ seq: number }>("UPDATE audits SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq AS seq", [auditId], c);
      const seq = bumped.rows[0]?.seq;
      if (seq === undefined) return null;
      await this.query("INSERT INTO audit_events (audit_id, seq, type, data, created_at) VALUES ($1, $2, $3, $4::json, $5)", [auditId, seq, type, JSON.stringify(data), now], c);
      return seq;
    });
  }
  async eventsAfter(auditId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.query<EventRow<unknown>>(
      "SELECT seq, type, data, created_at FROM audit_events WHERE audit_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
      [auditId, afterSeq, limit],
    );
    return rows.map((row) => toEvent(row, json));
  }

  // blobs
  async upsertBlob(blob: BlobRecordInput, now: number): Promise<void> {
    await this.query(
      `INSERT INTO blobs (tenant, digest, size, kind, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, digest) DO UPDATE SET size = excluded.size, kind = coalesce(excluded.kind, blobs.kind)`,
      [blob.tenant, blob.digest, blob.size, blob.kind ?? null, now],
    );
  }
  async tenantUsage(tenant: string): Promise<{ blobBytes: string; audits: number; layerSets: number }> {
    const { rows } = await this.query<{ bytes: string; audits: number; layer_sets: number }>(
      `SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE tenant = $1)::text AS bytes,
              (SELECT count(*) FROM audits WHERE tenant = $1)::int AS audits,
              (SELECT count(*) FROM audit_layers l JOIN audits a ON a.id = l.audit_id WHERE a.tenant = $1)::int AS layer_sets`,
      [tenant],
    );
    return { blobBytes: rows[0].bytes, audits: rows[0].audits, layerSets: rows[0].layer_sets };
  }
  async tenantHasBlob(tenant: string, digest: string): Promise<boolean> {
    return (await this.query("SELECT 1 FROM blobs WHERE tenant = $1 AND digest = $2", [tenant, digest])).rows.length > 0;
  }
  async blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[]): Promise<string[]> {
    const { rows } = await this.query<{ digest: string }>(
      `SELECT DISTINCT ab.digest FROM audit_blobs ab
       WHERE ab.audit_id = $1 AND ab.role = ANY($2::text[])
         AND NOT EXISTS (SELECT 1 FROM audit_blobs o WHERE o.digest = ab.digest AND o.audit_id <> ab.audit_id)
       ORDER BY ab.digest`,
      [auditId, roles],
    );
    return rows.map((r) => r.digest);
  }
  async markInputsPurged(auditId: string, roles: readonly AuditInputRole[], now: number): Promise<void> {
    await this.#transaction(async (c) => {
      await this.query("DELETE FROM audit_blobs WHERE audit_id = $1 AND role = ANY($2::text[])", [auditId, roles], c);
      await this.query("UPDATE audits SET inputs_purged_at = coalesce(inputs_purged_at, $1) WHERE id = $2", [now, auditId], c);
    });
  }
  async forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult> {
    return this.#transaction(async (c): Promise<ForgetBlobResult> => {
      // Lock the ownership row first: an audit being created with this blob (FOR SHARE) either
      // commits before — and is seen as a reference below — or finds the ownership gone.
      await this.query("SELECT 1 FROM blobs WHERE tenant = $1 AND digest = $2 FOR UPDATE", [tenant, digest], c);
      const stillUsed = await this.query(
        "SELECT 1 FROM audit_blobs ab JOIN audits a ON a.id = ab.audit_id WHERE ab.digest = $1 AND a.tenant = $2 LIMIT 1",
        [digest, tenant],
        c,
      );
      if (stillUsed.rows.length > 0) return { forgotten: false, orphaned: false };
      await this.query("DELETE FROM blobs WHERE tenant = $1 AND digest = $2", [tenant, digest], c);
      const { rows } = await this.query<{ owned: boolean; referenced: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = $1) AS owned,
                EXISTS (SELECT 1 FROM audit_blobs WHERE digest = $1) AS referenced`,
        [digest],
        c,
      );
      return { forgotten: true, orphaned: !rows[0].owned && !rows[0].referenced };
    });
  }

  // lifecycle
  async healthProbe(nonce: string, now: number): Promise<unknown> {
    return this.#transaction(async (c) => {
      // A probe must answer, not hang behind a stuck lock: readiness fails instead.
      await c.query(`SET LOCAL statement_timeout = ${HEALTH_TIMEOUT_MS}`);
      await c.query(
        `INSERT INTO health_probe (id, nonce, checked_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET nonce = excluded.nonce, checked_at = excluded.checked_at`,
        [nonce, now],
      );
      const { rows } = await c.query<{ nonce: string }>("SELECT nonce FROM health_probe WHERE id = 1");
      return rows[0]?.nonce;
    });
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

export class PgStore extends CheckedStore {
  readonly #sql: PgDialect;

  private constructor(sql: PgDialect, now: () => number) {
    super(sql, now);
    this.#sql = sql;
  }

  /** Connects, creates the schema if asked, and applies pending migrations (safe from several replicas at once). */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    if (options.schema !== undefined) assertSchemaName(options.schema);
    const now = options.now ?? Date.now;
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      application_name: options.applicationName ?? "sslmem",
      types: pgTypes(),
      ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // Without a listener an idle connection's error (database restart) would crash the process.
    pool.on("error", (err) => options.onIdleError?.(err));
    try {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await applyPgMigrations(client, options.migrations ?? PG_MIGRATIONS, now, options.schema);
      } catch (e) {
        if (!isSslmemError(e)) broken = e instanceof Error ? e : new Error(String(e));
        throw e;
      } finally {
        client.release(broken);
      }
    } catch (e) {
      await pool.end().catch(() => undefined);
      if (isSslmemError(e)) throw e;
      // The driver's code (ECONNREFUSED, 28P01 bad password, 3D000 no such database…) says what
      // to fix without echoing the URL; the full error stays in `cause` for the logs.
      const code = (e as { code?: unknown })?.code;
      const reason = typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? ` (${code})` : "";
      throw new SslmemError(
        "store_failure",
        `the store could not connect to PostgreSQL and migrate its schema${reason}; check SSLMEM_DATABASE_URL and that the server is running`,
        undefined,
        { cause: e },
      );
    }
    return new PgStore(new PgDialect(pool), now);
  }

  // --- diagnostics (PostgreSQL only) ---------------------------------------------------------

  /** Highest applied migration. */
  async schemaVersion(): Promise<number> {
    return guard("read its schema version", async () => {
      const { rows } = await this.#sql.query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations");
      return rows[0].v;
    });
  }
}

export function openPgStore(options: PgStoreOptions): Promise<PgStore> {
  return PgStore.open(options);
}
