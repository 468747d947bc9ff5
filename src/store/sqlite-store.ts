/**
 * The embedded store: one SQLite file through better-sqlite3 (synchronous, in-process): the SQLite
 * dialect under CheckedStore (checked-store.ts), which it shares with the PostgreSQL store.
 *
 * Durability settings, and why:
 * - WAL: readers (status polls, SSE, result downloads) never block the runner's writes.
 * - synchronous=FULL (default): every commit is fsynced before it returns, so what the service has
 *   acknowledged — a 202 for a submitted audit, a `succeeded` state a webhook announced, a batch of
 *   results the runner will not recompute — survives a power loss, not only a process crash (which
 *   NORMAL already survives). Commits happen once per batch of points, not per point, so the fsync
 *   cost is negligible next to inference. NORMAL is available for throwaway data directories.
 * - foreign_keys: results and events cascade with their audit.
 * - secure_delete: a purged audit's rows (point ids are file names, which may be sensitive) are
 *   overwritten, not left in free pages.
 * - busy_timeout: a second process (CLI `token create` next to a running server) waits for the
 *   write lock instead of failing.
 * - auto_vacuum=INCREMENTAL: deleting an audit gives its pages back to the file system
 *   (incremental_vacuum right after the delete), so the file shrinks instead of keeping its
 *   largest size forever. A file made before this setting is rewritten once (VACUUM) at open.
 *
 * Every operation runs synchronously on the calling thread, and a write transaction takes the
 * write lock up front (IMMEDIATE): two processes racing on one Idempotency-Key, or on the last
 * queue slot, serialize there. A very large finalizeResults (10^6 rows) holds the event loop for
 * about a second, once per audit.
 */
import { SqliteDeliverySql, SqliteWatchSql } from "./sqlite-deliveries.ts";
import { SqliteUnitResultSql } from "./sqlite-unit-results.ts";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { AuditState } from "../core/audit-states.ts";
import { CheckedStore } from "./checked-store.ts";
import type { InsertAuditOutcome, NewAudit, StateChange, StoreDialect } from "./dialect.ts";
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
import { SQLITE_MIGRATIONS, applyMigrations, type Migration } from "./sqlite-migrations.ts";
import { guard, neverStored } from "./store-errors.ts";
import { AUDIT_INPUT_ROLES } from "./types.ts";
import type { AuditInputRole, AuditProgress, AuditRecord, BlobRecordInput, ForgetBlobResult, JsonObject, ResultFinalization, ResultRow, StoredEvent, StoredResult } from "./types.ts";
import type { ResultQuery } from "./validate.ts";

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. */
  path: string;
  /** Clock in ms since the epoch (tests inject one). */
  now?: () => number;
  synchronous?: "FULL" | "NORMAL";
  busyTimeoutMs?: number;
  /** Migrations to apply (tests of the migration runner pass their own). */
  migrations?: readonly Migration[];
}

/** What the connection actually runs with (logged at startup, checked by tests). */
export interface SqliteSettings {
  journalMode: string;
  autoVacuum: "NONE" | "FULL" | "INCREMENTAL";
  synchronous: "OFF" | "NORMAL" | "FULL" | "EXTRA";
  foreignKeys: boolean;
  secureDelete: boolean;
  busyTimeoutMs: number;
  schemaVersion: number;
}

const SYNCHRONOUS_NAMES = ["OFF", "NORMAL", "FULL", "EXTRA"] as const;
const AUTO_VACUUM_NAMES = ["NONE", "FULL", "INCREMENTAL"] as const;
const INCREMENTAL = 2;

/**
 * auto_vacuum=INCREMENTAL. On a new file the pragma takes effect by itself; an existing file
 * without it is rewritten once (VACUUM). Best effort: another process reading the file makes
 * VACUUM busy, and the next open tries again; deletes then only reuse pages, as before.
 */
function enableIncrementalVacuum(db: Database.Database): void {
  db.pragma("auto_vacuum = INCREMENTAL");
  if (Number(db.pragma("auto_vacuum", { simple: true })) === INCREMENTAL) return;
  try {
    db.exec("VACUUM");
  } catch {
    // left as is until the next open
  }
}

/** JSON columns are TEXT in SQLite. */
const json = (text: string): unknown => JSON.parse(text);
const audit = (row: AuditRow<string>): AuditRecord => toAudit(row, json);
/** The result filter, with named parameters @role and @flaggedOnly (0/1). */
const RESULT_FILTER = "(@role IS NULL OR role = @role) AND (@flaggedOnly = 0 OR flagged = 1)";
const filterParams = (q: ResultQuery) => ({ role: q.role, flaggedOnly: q.flaggedOnly ? 1 : 0 });
/** A patch field as two parameters: whether to set it, and its JSON (null clears). */
const patchField = (value: unknown) => (value === undefined ? { set: 0, value: null } : { set: 1, value: value === null ? null : JSON.stringify(value) });

class SqliteDialect implements StoreDialect {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly deliveries: SqliteDeliverySql;
  readonly watches: SqliteWatchSql;
  readonly units: SqliteUnitResultSql;

  constructor(db: Database.Database) {
    this.#db = db;
    const stmt = (sql: string) => this.stmt(sql);
    this.deliveries = new SqliteDeliverySql(stmt, (fn) => this.#write(fn));
    this.watches = new SqliteWatchSql(stmt);
    this.units = new SqliteUnitResultSql(stmt, (fn) => this.#write(fn));
  }

  stmt(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` in a transaction that takes the write lock up front. */
  #write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  // tokens
  async insertToken(t: { id: string; tenant: string; hash: Buffer; now: number }): Promise<void> {
    this.stmt("INSERT INTO tokens (id, tenant, hash, created_at) VALUES (?, ?, ?, ?)").run(t.id, t.tenant, t.hash, t.now);
  }
  async activeTokenByHash(hash: Buffer): Promise<{ id: string; tenant: string; hash: Buffer } | undefined> {
    return this.stmt("SELECT id, tenant, hash FROM tokens WHERE hash = ? AND revoked_at IS NULL").get(hash) as
      | { id: string; tenant: string; hash: Buffer }
      | undefined;
  }
  async revokeToken(id: string, now: number): Promise<boolean> {
    return this.stmt("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(now, id).changes > 0;
  }
  async tokensOfTenant(tenant: string): Promise<TokenRow[]> {
    return this.stmt("SELECT id, tenant, created_at, revoked_at FROM tokens WHERE tenant = ? ORDER BY id").all(tenant) as TokenRow[];
  }

  // audits
  async insertAudit(a: NewAudit): Promise<InsertAuditOutcome> {
    return this.#write((): InsertAuditOutcome => {
      if (a.idempotencyKey !== null) {
        const existing = this.stmt(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = ? AND idempotency_key = ?`).get(a.tenant, a.idempotencyKey) as
          | AuditRow<string>
          | undefined;
        if (existing) return { kind: "existing", audit: audit(existing) };
      }
      for (const role of AUDIT_INPUT_ROLES) {
        const digest = a.inputs[role];
        if (digest !== undefined && !this.stmt("SELECT 1 FROM blobs WHERE tenant = ? AND digest = ?").get(a.tenant, digest)) {
          return { kind: "blob_missing", role, digest };
        }
      }
      if (a.maxQueued !== undefined) {
        const queued = Number(this.stmt("SELECT count(*) FROM audits WHERE state = 'queued'").pluck().get());
        if (queued >= a.maxQueued) return { kind: "queue_full" };
      }
      if (a.maxQueuedPerTenant !== undefined) {
        const own = Number(this.stmt("SELECT count(*) FROM audits WHERE state = 'queued' AND tenant = ?").pluck().get(a.tenant));
        if (own >= a.maxQueuedPerTenant) return { kind: "tenant_queue_full" };
      }
      // The event counter starts at the number of first events, numbered 1… here (appendEvent continues it).
      this.stmt(
        `INSERT INTO audits (id, tenant, kind, state, config, inputs, idempotency_key, request_hash, created_at, updated_at, last_event_seq)
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)`,
      ).run(a.id, a.tenant, a.kind, JSON.stringify(a.config), JSON.stringify(a.inputs), a.idempotencyKey, a.requestHash, a.now, a.now, a.events.length);
      for (const role of AUDIT_INPUT_ROLES) {
        const digest = a.inputs[role];
        if (digest !== undefined) this.stmt("INSERT INTO audit_blobs (audit_id, role, digest) VALUES (?, ?, ?)").run(a.id, role, digest);
      }
      const event = this.stmt("INSERT INTO audit_events (audit_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)");
      a.events.forEach((e, i) => event.run(a.id, i + 1, e.type, JSON.stringify(e.data), a.now));
      this.deliveries.insertForAudit(a.deliveries, a.now);
      if (a.settlesWatchTrigger) this.watches.settleTriggerForAudit(a.settlesWatchTrigger);
      return { kind: "created", audit: audit(this.stmt(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = ?`).get(a.id) as AuditRow<string>) };
    });
  }
  async auditById(id: string, tenant?: string): Promise<AuditRecord | null> {
    const row = (
      tenant === undefined
        ? this.stmt(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = ?`).get(id)
        : this.stmt(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = ? AND tenant = ?`).get(id, tenant)
    ) as AuditRow<string> | undefined;
    return row ? audit(row) : null;
  }
  async auditsOfTenant(tenant: string, before: string | null, rows: number): Promise<AuditRecord[]> {
    return (
      this.stmt(
        `SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = @tenant AND (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @rows`,
      ).all({ tenant, before, rows }) as AuditRow<string>[]
    ).map(audit);
  }
  async auditsInStates(states: readonly AuditState[]): Promise<AuditRecord[]> {
    return (
      this.stmt(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`).all(
        JSON.stringify(states),
      ) as AuditRow<string>[]
    ).map(audit);
  }
  async countByState(): Promise<{ state: AuditState; n: number }[]> {
    return this.stmt("SELECT state, count(*) AS n FROM audits GROUP BY state").all() as { state: AuditState; n: number }[];
  }
  async auditsFinishedBefore(before: number, limit: number): Promise<AuditRecord[]> {
    return (
      this.stmt(
        `SELECT ${AUDIT_COLUMNS} FROM audits WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL AND finished_at < ?
         ORDER BY finished_at, id LIMIT ?`,
      ).all(before, limit) as AuditRow<string>[]
    ).map(audit);
  }
  async changeState(c: StateChange): Promise<boolean> {
    const progress = patchField(c.patch.progress);
    const summary = patchField(c.patch.summary);
    const error = patchField(c.patch.error);
    const report = patchField(c.patch.report);
    const r = this.stmt(
      `UPDATE audits SET
         state = @to,
         updated_at = @now,
         started_at = CASE WHEN @running = 1 THEN coalesce(started_at, @now) ELSE started_at END,
         attempt = attempt + @running,
         crashes = crashes + @crash,
         finished_at = CASE WHEN @terminal = 1 THEN @now ELSE finished_at END,
         progress = CASE WHEN @setProgress = 1 THEN @progress ELSE progress END,
         summary = CASE WHEN @setSummary = 1 THEN @summary ELSE summary END,
         error = CASE WHEN @setError = 1 THEN @error ELSE error END,
         report = CASE WHEN @setReport = 1 THEN @report ELSE report END
       WHERE id = @id AND state IN (SELECT value FROM json_each(@from))`,
    ).run({
      id: c.id,
      to: c.to,
      now: c.now,
      from: JSON.stringify(c.from),
      running: c.entersRunning ? 1 : 0,
      terminal: c.entersTerminal ? 1 : 0,
      crash: c.patch.countCrash ? 1 : 0,
      setProgress: progress.set,
      progress: progress.value,
      setSummary: summary.set,
      summary: summary.value,
      setError: error.set,
      error: error.value,
      setReport: report.set,
      report: report.value,
    });
    return r.changes > 0;
  }
  async setProgress(id: string, progress: AuditProgress, now: number): Promise<boolean> {
    return this.stmt("UPDATE audits SET progress = ?, updated_at = ? WHERE id = ? AND state = 'running'").run(JSON.stringify(progress), now, id).changes > 0;
  }
  async deleteAudit(tenant: string, id: string): Promise<boolean> {
    const deleted = this.stmt("DELETE FROM audits WHERE id = ? AND tenant = ?").run(id, tenant).changes > 0;
    // secure_delete zeroes the rows in the new page images, but the WAL still holds the old
    // ones (point ids, scores) until it is overwritten: copy it back and truncate it now, so a
    // purge leaves nothing in the files. Best effort: a reader in another process can keep
    // part of the WAL alive until the next checkpoint.
    if (!deleted) return false;
    // The freed pages leave the file (auto_vacuum=INCREMENTAL) before the checkpoint copies the
    // shrunken database back, so the space is the file system's again once this returns.
    this.#db.pragma("incremental_vacuum");
    if (this.#db.pragma("journal_mode", { simple: true }) === "wal") this.#db.pragma("wal_checkpoint(TRUNCATE)");
    return true;
  }

  // results
  async upsertResults(auditId: string, rows: readonly ResultRow[]): Promise<boolean> {
    return this.#write(() => {
      if (!this.stmt("SELECT 1 FROM audits WHERE id = ?").get(auditId)) return false;
      // Upsert: a batch recomputed after a crash replaces its rows instead of duplicating them,
      // and clears any batch-level fields (they are recomputed at finalize).
      const upsert = this.stmt(
        `INSERT INTO audit_results (audit_id, idx, point_id, role, align_target, align_reference, score, std_err, pairs)
         VALUES (@auditId, @index, @id, @role, @alignTarget, @alignReference, @score, @stdErr, @pairs)
         ON CONFLICT (audit_id, idx) DO UPDATE SET
           point_id = excluded.point_id, role = excluded.role, align_target = excluded.align_target,
           align_reference = excluded.align_reference, score = excluded.score, std_err = excluded.std_err,
           pairs = excluded.pairs, score_normalized = NULL, p_value = NULL, flagged = NULL`,
      );
      // A point's layer rows are replaced with it: the ones past its layer count go, the others
      // are upserted (same transaction, so a crash leaves a point with all its layers or none).
      const dropLayers = this.stmt("DELETE FROM audit_result_layers WHERE audit_id = ? AND idx = ? AND layer >= ?");
      const upsertLayer = this.stmt(
        `INSERT INTO audit_result_layers (audit_id, idx, layer, align_target, align_reference, score, std_err)
         VALUES (@auditId, @index, @layer, @alignTarget, @alignReference, @score, @stdErr)
         ON CONFLICT (audit_id, idx, layer) DO UPDATE SET
           align_target = excluded.align_target, align_reference = excluded.align_reference,
           score = excluded.score, std_err = excluded.std_err`,
      );
      for (const row of rows) {
        upsert.run({
          auditId,
          index: row.index,
          id: row.id,
          role: row.role,
          alignTarget: row.alignTarget,
          alignReference: row.alignReference,
          score: row.score,
          stdErr: row.stdErr,
          pairs: row.pairs,
        });
        const layers = row.layers ?? [];
        dropLayers.run(auditId, row.index, layers.length);
        layers.forEach((l, layer) =>
          upsertLayer.run({ auditId, index: row.index, layer, alignTarget: l.alignTarget, alignReference: l.alignReference, score: l.score, stdErr: l.stdErr }),
        );
      }
      return true;
    });
  }
  async countResults(auditId: string, q: ResultQuery): Promise<number> {
    return Number(this.stmt(`SELECT count(*) FROM audit_results WHERE audit_id = @auditId AND ${RESULT_FILTER}`).pluck().get({ auditId, ...filterParams(q) }));
  }
  async maxCommittedIndex(auditId: string): Promise<number | null> {
    const v = this.stmt("SELECT max(idx) FROM audit_results WHERE audit_id = ?").pluck().get(auditId);
    return v === null || v === undefined ? null : Number(v);
  }
  async committedIndices(auditId: string, from: number | null, to: number | null): Promise<number[]> {
    return (
      this.stmt(
        `SELECT idx FROM audit_results WHERE audit_id = @auditId
         AND (@from IS NULL OR idx >= @from) AND (@to IS NULL OR idx < @to) ORDER BY idx`,
      )
        .pluck()
        .all({ auditId, from, to }) as number[]
    ).map(Number);
  }
  async finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void> {
    this.#write(() => {
      const update = this.stmt("UPDATE audit_results SET score_normalized = ?, p_value = ?, flagged = ? WHERE audit_id = ? AND idx = ?");
      for (const u of updates) {
        if (update.run(u.scoreNormalized, u.pValue ?? null, u.flagged ? 1 : 0, auditId, u.index).changes !== 1) throw neverStored(u.index, auditId);
      }
    });
  }
  async resultsAfterIndex(auditId: string, q: ResultQuery, after: number, limit: number, offset: number): Promise<StoredResult[]> {
    return (
      this.stmt(
        `SELECT ${RESULT_COLUMNS} FROM audit_results
         WHERE audit_id = @auditId AND idx > @after AND ${RESULT_FILTER}
         ORDER BY idx LIMIT @limit OFFSET @offset`,
      ).all({ auditId, after, limit, offset, ...filterParams(q) }) as ResultRowOf[]
    ).map(toResult);
  }
  async resultsByScore(auditId: string, q: ResultQuery, limit: number, offset: number): Promise<StoredResult[]> {
    // NULLS LAST spelled out: PostgreSQL sorts NULLs first in DESC order, SQLite last.
    return (
      this.stmt(
        `SELECT ${RESULT_COLUMNS} FROM audit_results WHERE audit_id = @auditId AND ${RESULT_FILTER}
         ORDER BY score_normalized DESC NULLS LAST, idx LIMIT @limit OFFSET @offset`,
      ).all({ auditId, limit, offset, ...filterParams(q) }) as ResultRowOf[]
    ).map(toResult);
  }

  async layerScoresOf(auditId: string, indices: readonly number[]): Promise<LayerScoreRowOf[]> {
    return this.stmt(
      `SELECT ${LAYER_SCORE_COLUMNS} FROM audit_result_layers
       WHERE audit_id = ? AND idx IN (SELECT value FROM json_each(?)) ORDER BY idx, layer`,
    ).all(auditId, JSON.stringify(indices)) as LayerScoreRowOf[];
  }

  // layers
  async upsertLayers(auditId: string, layers: readonly LayerDescription[]): Promise<boolean> {
    return this.#write(() => {
      if (!this.stmt("SELECT 1 FROM audits WHERE id = ?").get(auditId)) return false;
      // The same upsert as PostgreSQL's (where shards record concurrently).
      this.stmt("DELETE FROM audit_layers WHERE audit_id = ? AND layer >= ?").run(auditId, layers.length);
      const insert = this.stmt(
        `INSERT INTO audit_layers (audit_id, ${LAYER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (audit_id, layer) DO UPDATE SET
           name = excluded.name, target = excluded.target, reference = excluded.reference,
           final = excluded.final, shape = excluded.shape, dim = excluded.dim`,
      );
      layers.forEach((l, layer) => insert.run(auditId, layer, l.name, l.target, l.reference, l.final ? 1 : 0, JSON.stringify(l.shape), l.dim));
      return true;
    });
  }
  async layersOf(auditId: string): Promise<LayerDescription[]> {
    return (this.stmt(`SELECT ${LAYER_COLUMNS} FROM audit_layers WHERE audit_id = ? ORDER BY layer`).all(auditId) as LayerRowOf<string>[]).map((row) =>
      toLayer(row, json),
    );
  }

  // events
  async appendEvent(auditId: string, type: string, data: JsonObject, now: number): Promise<number | null> {
    return this.#write((): number | null => {
      // The counter lives on the audit row: the seq is allocated under the write lock, so it is
      // gap-free and monotonic even with several writers.
      const seq = this.stmt("UPDATE audits SET last_event_seq = last_event_seq + 1 WHERE id = ? RETURNING last_event_seq").pluck().get(auditId) as
        | number
        | undefined;
      if (seq === undefined) return null;
      this.stmt("INSERT INTO audit_events (audit_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)").run(auditId, seq, type, JSON.stringify(data), now);
      return seq;
    });
  }
  async eventsAfter(auditId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (
      this.stmt("SELECT seq, type, data, created_at FROM audit_events WHERE audit_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(auditId, afterSeq, limit) as EventRow<string>[]
    ).map((row) => toEvent(row, json));
  }

  // blobs
  async upsertBlob(blob: BlobRecordInput, now: number): Promise<void> {
    this.stmt(
      `INSERT INTO blobs (tenant, digest, size, kind, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant, digest) DO UPDATE SET size = excluded.size, kind = coalesce(excluded.kind, blobs.kind)`,
    ).run(blob.tenant, blob.digest, blob.size, blob.kind ?? null, now);
  }
  async tenantUsage(tenant: string): Promise<{ blobBytes: number; audits: number; layerSets: number }> {
    return {
      blobBytes: Number(this.stmt("SELECT coalesce(sum(size), 0) FROM blobs WHERE tenant = ?").pluck().get(tenant)),
      audits: Number(this.stmt("SELECT count(*) FROM audits WHERE tenant = ?").pluck().get(tenant)),
      layerSets: Number(this.stmt("SELECT count(*) FROM audit_layers l JOIN audits a ON a.id = l.audit_id WHERE a.tenant = ?").pluck().get(tenant)),
    };
  }
  async tenantHasBlob(tenant: string, digest: string): Promise<boolean> {
    return !!this.stmt("SELECT 1 FROM blobs WHERE tenant = ? AND digest = ?").get(tenant, digest);
  }
  async blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[]): Promise<string[]> {
    return this.stmt(
      `SELECT DISTINCT ab.digest FROM audit_blobs ab
       WHERE ab.audit_id = @auditId AND ab.role IN (SELECT value FROM json_each(@roles))
         AND NOT EXISTS (SELECT 1 FROM audit_blobs o WHERE o.digest = ab.digest AND o.audit_id <> ab.audit_id)
       ORDER BY ab.digest`,
    )
      .pluck()
      .all({ auditId, roles: JSON.stringify(roles) }) as string[];
  }
  async markInputsPurged(auditId: string, roles: readonly AuditInputRole[], now: number): Promise<void> {
    this.#write(() => {
      this.stmt("DELETE FROM audit_blobs WHERE audit_id = ? AND role IN (SELECT value FROM json_each(?))").run(auditId, JSON.stringify(roles));
      this.stmt("UPDATE audits SET inputs_purged_at = coalesce(inputs_purged_at, ?) WHERE id = ?").run(now, auditId);
    });
  }
  async forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult> {
    return this.#write((): ForgetBlobResult => {
      const stillUsed = this.stmt("SELECT 1 FROM audit_blobs ab JOIN audits a ON a.id = ab.audit_id WHERE ab.digest = ? AND a.tenant = ?").get(digest, tenant);
      if (stillUsed) return { forgotten: false, orphaned: false };
      this.stmt("DELETE FROM blobs WHERE tenant = ? AND digest = ?").run(tenant, digest);
      const owned = this.stmt("SELECT 1 FROM blobs WHERE digest = ?").get(digest);
      const referenced = this.stmt("SELECT 1 FROM audit_blobs WHERE digest = ?").get(digest);
      return { forgotten: true, orphaned: !owned && !referenced };
    });
  }

  // lifecycle
  async healthProbe(nonce: string, now: number): Promise<unknown> {
    return this.#write(() => {
      this.stmt(
        `INSERT INTO health_probe (id, nonce, checked_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET nonce = excluded.nonce, checked_at = excluded.checked_at`,
      ).run(nonce, now);
      return this.stmt("SELECT nonce FROM health_probe WHERE id = 1").pluck().get();
    });
  }
  async close(): Promise<void> {
    if (this.#db.open) {
      this.#statements.clear();
      this.#db.close();
    }
  }
}

export class SqliteStore extends CheckedStore {
  readonly #db: Database.Database;
  readonly #sql: SqliteDialect;

  private constructor(db: Database.Database, sql: SqliteDialect, now: () => number) {
    super(sql, now);
    this.#db = db;
    this.#sql = sql;
  }

  /** Opens (creating if needed) the database file, sets pragmas and applies pending migrations. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    return guard("open the database", () => {
      if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
      const db = new Database(options.path);
      try {
        db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
        db.pragma("foreign_keys = ON");
        db.pragma("secure_delete = ON");
        db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
        if (options.path !== ":memory:") enableIncrementalVacuum(db);
        applyMigrations(db, options.migrations ?? SQLITE_MIGRATIONS, options.now ?? Date.now);
      } catch (e) {
        db.close();
        throw e;
      }
      return new SqliteStore(db, new SqliteDialect(db), options.now ?? Date.now);
    });
  }

  // --- diagnostics (SQLite only) -----------------------------------------------------------

  async settings(): Promise<SqliteSettings> {
    return guard("read its settings", () => ({
      journalMode: String(this.#db.pragma("journal_mode", { simple: true })),
      autoVacuum: AUTO_VACUUM_NAMES[Number(this.#db.pragma("auto_vacuum", { simple: true }))] ?? "NONE",
      synchronous: SYNCHRONOUS_NAMES[Number(this.#db.pragma("synchronous", { simple: true }))] ?? "EXTRA",
      foreignKeys: Number(this.#db.pragma("foreign_keys", { simple: true })) === 1,
      secureDelete: Number(this.#db.pragma("secure_delete", { simple: true })) === 1,
      busyTimeoutMs: Number(this.#db.pragma("busy_timeout", { simple: true })),
      schemaVersion: Number(this.#sql.stmt("SELECT coalesce(max(version), 0) FROM schema_migrations").pluck().get()),
    }));
  }

  /** `PRAGMA integrity_check`: ["ok"] when the file is sound. */
  async integrityCheck(): Promise<string[]> {
    return guard("check its integrity", () =>
      (this.#db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check),
    );
  }
}

export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(options);
}
