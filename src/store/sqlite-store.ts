/**
 * The embedded store: one SQLite file through better-sqlite3 (synchronous, in-process), behind the
 * async Store interface shared with the PostgreSQL store.
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
 *
 * Every operation runs synchronously on the calling thread; a very large finalizeResults (10^6
 * rows) holds the event loop for about a second, once per audit.
 */
import { tenantQueueFull } from "./tenant-share.ts";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { assertAuditCursor, indexCursor, offsetCursor, parseIndexCursor, parseOffsetCursor } from "./cursors.ts";
import { createIdGenerator, type IdGenerator } from "./ids.ts";
import { SQLITE_MIGRATIONS, applyMigrations, type Migration } from "./sqlite-migrations.ts";
import { RESULT_COLUMNS, RESULT_FILTER, iso, toAudit, toResult, type AuditRow, type ResultDbRow } from "./sqlite-rows.ts";
import { generateToken, hashToken, looksLikeToken, tokenHashesEqual } from "./tokens.ts";
import {
  AUDIT_INPUT_ROLES,
  AUDIT_STATES,
  TERMINAL_STATES,
  isTransitionAllowed,
  type AuditEventInput,
  type AuditInputRole,
  type AuditInputs,
  type AuditPatch,
  type AuditProgress,
  type AuditRecord,
  type AuditState,
  type BlobRecordInput,
  type CreateAuditInput,
  type CreateAuditResult,
  type CreatedToken,
  type ForgetBlobResult,
  type IndexRange,
  type IterateResultsOptions,
  type JsonObject,
  type ListAuditsOptions,
  type Page,
  type ReadResultsOptions,
  type ResultFilter,
  type ResultFinalization,
  type ResultRow,
  type Store,
  type StoredEvent,
  type StoredResult,
  type TokenInfo,
  type TokenPrincipal, type TenantUsage } from "./types.ts";
import {
  MAX_LIST_LIMIT,
  MAX_RESULTS_LIMIT,
  assertAuditStates,
  assertDigest,
  assertFinite,
  assertIdempotencyKey,
  assertInputRoles,
  assertLimit,
  assertResultRow,
  assertTenant,
  filterParams,
} from "./validate.ts";

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
  synchronous: "OFF" | "NORMAL" | "FULL" | "EXTRA";
  foreignKeys: boolean;
  secureDelete: boolean;
  busyTimeoutMs: number;
  schemaVersion: number;
}

const SYNCHRONOUS_NAMES = ["OFF", "NORMAL", "FULL", "EXTRA"] as const;
const DEFAULT_CHUNK = 1000;



/** Wraps driver errors (disk full, I/O, closed connection) into `store_failure`, keeping the cause. */
function guard<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSslmemError(e)) throw e;
    throw new SslmemError("store_failure", `the store could not ${operation}`, undefined, { cause: e });
  }
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #newId: IdGenerator;
  readonly #statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database, now: () => number) {
    this.#db = db;
    this.#now = now;
    this.#newId = createIdGenerator(now);
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
        applyMigrations(db, options.migrations ?? SQLITE_MIGRATIONS, options.now ?? Date.now);
      } catch (e) {
        db.close();
        throw e;
      }
      return new SqliteStore(db, options.now ?? Date.now);
    });
  }

  #stmt(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  // --- diagnostics (SQLite only) -----------------------------------------------------------

  async settings(): Promise<SqliteSettings> {
    return guard("read its settings", () => ({
      journalMode: String(this.#db.pragma("journal_mode", { simple: true })),
      synchronous: SYNCHRONOUS_NAMES[Number(this.#db.pragma("synchronous", { simple: true }))] ?? "EXTRA",
      foreignKeys: Number(this.#db.pragma("foreign_keys", { simple: true })) === 1,
      secureDelete: Number(this.#db.pragma("secure_delete", { simple: true })) === 1,
      busyTimeoutMs: Number(this.#db.pragma("busy_timeout", { simple: true })),
      schemaVersion: Number(this.#stmt("SELECT coalesce(max(version), 0) FROM schema_migrations").pluck().get()),
    }));
  }

  /** `PRAGMA integrity_check`: ["ok"] when the file is sound. */
  async integrityCheck(): Promise<string[]> {
    return guard("check its integrity", () =>
      (this.#db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check),
    );
  }

  // --- tokens --------------------------------------------------------------------------------

  async createToken(tenant: string): Promise<CreatedToken> {
    assertTenant(tenant);
    return guard("create a token", () => {
      const id = this.#newId("tok_");
      const token = generateToken();
      this.#stmt("INSERT INTO tokens (id, tenant, hash, created_at) VALUES (?, ?, ?, ?)").run(
        id,
        tenant,
        hashToken(token),
        this.#now(),
      );
      return { id, token };
    });
  }

  async authenticate(token: string): Promise<TokenPrincipal | null> {
    if (typeof token !== "string" || !looksLikeToken(token)) return null;
    const hash = hashToken(token);
    return guard("authenticate a token", () => {
      const row = this.#stmt("SELECT id, tenant, hash FROM tokens WHERE hash = ? AND revoked_at IS NULL").get(hash) as
        | { id: string; tenant: string; hash: Buffer }
        | undefined;
      if (!row || !tokenHashesEqual(row.hash, hash)) return null;
      return { tenant: row.tenant, tokenId: row.id };
    });
  }

  async revokeToken(id: string): Promise<boolean> {
    return guard("revoke a token", () => {
      const r = this.#stmt("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(this.#now(), id);
      return r.changes > 0;
    });
  }

  async listTokens(tenant: string): Promise<TokenInfo[]> {
    return guard("list tokens", () => {
      const rows = this.#stmt("SELECT id, tenant, created_at, revoked_at FROM tokens WHERE tenant = ? ORDER BY id").all(
        tenant,
      ) as { id: string; tenant: string; created_at: number; revoked_at: number | null }[];
      return rows.map((r) => ({ id: r.id, tenant: r.tenant, createdAt: iso(r.created_at)!, revokedAt: iso(r.revoked_at) }));
    });
  }

  // --- audits --------------------------------------------------------------------------------

  async createAudit(input: CreateAuditInput): Promise<CreateAuditResult> {
    assertTenant(input.tenant);
    const inputs = input.inputs;
    assertDigest(inputs?.target, "inputs.target");
    assertDigest(inputs.reference, "inputs.reference");
    assertDigest(inputs.candidates, "inputs.candidates");
    if (inputs.controls !== undefined) assertDigest(inputs.controls, "inputs.controls");
    if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
    const storedInputs: AuditInputs = {
      target: inputs.target,
      reference: inputs.reference,
      candidates: inputs.candidates,
      ...(inputs.controls !== undefined ? { controls: inputs.controls } : {}),
    };
    const config = JSON.stringify(input.config ?? {});
    const requestHash = input.requestHash ?? null;

    const create = () => this.#db.transaction((): CreateAuditResult => {
      if (input.idempotencyKey !== undefined) {
        const existing = this.#stmt("SELECT * FROM audits WHERE tenant = ? AND idempotency_key = ?").get(
          input.tenant,
          input.idempotencyKey,
        ) as AuditRow | undefined;
        if (existing) {
          if (existing.request_hash !== requestHash) {
            throw new SslmemError(
              "idempotency_conflict",
              "this Idempotency-Key was already used with a different request; send the same request again or use a new key",
              { auditId: existing.id },
            );
          }
          return { audit: toAudit(existing), created: false };
        }
      }
      for (const role of AUDIT_INPUT_ROLES) {
        const digest = storedInputs[role];
        if (digest === undefined) continue;
        const owned = this.#stmt("SELECT 1 FROM blobs WHERE tenant = ? AND digest = ?").get(input.tenant, digest);
        if (!owned) {
          throw new SslmemError(
            "blob_not_found",
            `the ${role} blob ${digest} has not been uploaded; PUT it to /v1/blobs/${digest} first`,
            { input: role, digest },
          );
        }
      }
      if (input.maxQueued !== undefined) {
        const queued = this.#stmt("SELECT count(*) FROM audits WHERE state = 'queued'").pluck().get() as number;
        if (queued >= input.maxQueued) {
          throw new SslmemError("queue_full", `${input.maxQueued} audits are already waiting; retry later`, { maxQueued: input.maxQueued });
        }
      }
      if (input.maxQueuedPerTenant !== undefined) {
        const own = this.#stmt("SELECT count(*) FROM audits WHERE state = 'queued' AND tenant = ?").pluck().get(input.tenant) as number;
        if (own >= input.maxQueuedPerTenant) throw tenantQueueFull(input.maxQueuedPerTenant);
      }
      const id = this.#newId("aud_");
      const now = this.#now();
      this.#stmt(
        `INSERT INTO audits (id, tenant, state, config, inputs, idempotency_key, request_hash, created_at, updated_at)
         VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      ).run(id, input.tenant, config, JSON.stringify(storedInputs), input.idempotencyKey ?? null, requestHash, now, now);
      for (const role of AUDIT_INPUT_ROLES) {
        const digest = storedInputs[role];
        if (digest !== undefined) {
          this.#stmt("INSERT INTO audit_blobs (audit_id, role, digest) VALUES (?, ?, ?)").run(id, role, digest);
        }
      }
      return { audit: this.#auditById(id)!, created: true };
    });
    // IMMEDIATE takes the write lock up front: two processes racing on one key serialize here.
    return guard("create an audit", () => create().immediate());
  }

  #auditById(id: string): AuditRecord | null {
    const row = this.#stmt("SELECT * FROM audits WHERE id = ?").get(id) as AuditRow | undefined;
    return row ? toAudit(row) : null;
  }

  async getAudit(tenant: string, id: string): Promise<AuditRecord | null> {
    return guard("read an audit", () => {
      const row = this.#stmt("SELECT * FROM audits WHERE id = ? AND tenant = ?").get(id, tenant) as AuditRow | undefined;
      return row ? toAudit(row) : null;
    });
  }

  async getAuditInternal(id: string): Promise<AuditRecord | null> {
    return guard("read an audit", () => this.#auditById(id));
  }

  async listAudits(tenant: string, options: ListAuditsOptions): Promise<Page<AuditRecord>> {
    assertLimit(options.limit, MAX_LIST_LIMIT);
    const cursor = options.cursor ?? null;
    if (cursor !== null) assertAuditCursor(cursor);
    return guard("list audits", () => {
      // The cursor is the last id of the previous page: ids sort by creation, so "older than the
      // cursor" is one index range scan however deep the page.
      const rows = this.#stmt(
        `SELECT * FROM audits WHERE tenant = @tenant AND (@cursor IS NULL OR id < @cursor)
         ORDER BY id DESC LIMIT @limit`,
      ).all({ tenant, cursor, limit: options.limit + 1 }) as AuditRow[];
      const more = rows.length > options.limit;
      const items = rows.slice(0, options.limit).map(toAudit);
      return { items, nextCursor: more ? items[items.length - 1].id : null };
    });
  }

  async listAuditsByState(states: readonly AuditState[]): Promise<AuditRecord[]> {
    assertAuditStates(states);
    return guard("list audits", () => {
      const rows = this.#stmt(
        "SELECT * FROM audits WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, id",
      ).all(JSON.stringify(states)) as AuditRow[];
      return rows.map(toAudit);
    });
  }

  async countAuditsByState(): Promise<Record<AuditState, number>> {
    return guard("count audits", () => {
      const counts = Object.fromEntries(AUDIT_STATES.map((s) => [s, 0])) as Record<AuditState, number>;
      const rows = this.#stmt("SELECT state, count(*) AS n FROM audits GROUP BY state").all() as {
        state: AuditState;
        n: number;
      }[];
      for (const r of rows) counts[r.state] = r.n;
      return counts;
    });
  }

  async transition(id: string, from: readonly AuditState[], to: AuditState, patch: AuditPatch = {}): Promise<boolean> {
    assertAuditStates([...from, to]);
    for (const f of from) {
      if (!isTransitionAllowed(f, to)) {
        throw new SslmemError("internal", `audit state cannot change from ${f} to ${to}`);
      }
    }
    if (from.length === 0) return false;
    const now = this.#now();
    const field = (value: unknown) => (value === undefined ? { set: 0, value: null } : { set: 1, value: value === null ? null : JSON.stringify(value) });
    const progress = field(patch.progress);
    const summary = field(patch.summary);
    const error = field(patch.error);
    const report = field(patch.report);
    return guard("update an audit", () => {
      const r = this.#stmt(
        `UPDATE audits SET
           state = @to,
           updated_at = @now,
           started_at = CASE WHEN @running = 1 THEN coalesce(started_at, @now) ELSE started_at END,
           attempt = attempt + @running,
           finished_at = CASE WHEN @terminal = 1 THEN @now ELSE finished_at END,
           progress = CASE WHEN @setProgress = 1 THEN @progress ELSE progress END,
           summary = CASE WHEN @setSummary = 1 THEN @summary ELSE summary END,
           error = CASE WHEN @setError = 1 THEN @error ELSE error END,
           report = CASE WHEN @setReport = 1 THEN @report ELSE report END
         WHERE id = @id AND state IN (SELECT value FROM json_each(@from))`,
      ).run({
        id,
        to,
        now,
        from: JSON.stringify(from),
        running: to === "running" ? 1 : 0,
        terminal: TERMINAL_STATES.includes(to) ? 1 : 0,
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
    });
  }

  async setProgress(id: string, progress: AuditProgress): Promise<boolean> {
    return guard("update progress", () => {
      const r = this.#stmt("UPDATE audits SET progress = ?, updated_at = ? WHERE id = ? AND state = 'running'").run(
        JSON.stringify(progress),
        this.#now(),
        id,
      );
      return r.changes > 0;
    });
  }

  async deleteAudit(tenant: string, id: string): Promise<boolean> {
    // Results, events and input references go with the row (ON DELETE CASCADE), in one statement.
    return guard("delete an audit", () => {
      const deleted = this.#stmt("DELETE FROM audits WHERE id = ? AND tenant = ?").run(id, tenant).changes > 0;
      // secure_delete zeroes the rows in the new page images, but the WAL still holds the old
      // ones (point ids, scores) until it is overwritten: copy it back and truncate it now, so a
      // purge leaves nothing in the files. Best effort: a reader in another process can keep
      // part of the WAL alive until the next checkpoint.
      if (deleted && this.#db.pragma("journal_mode", { simple: true }) === "wal") this.#db.pragma("wal_checkpoint(TRUNCATE)");
      return deleted;
    });
  }

  // --- per-point results ---------------------------------------------------------------------

  #assertAuditExists(auditId: string): void {
    if (!this.#stmt("SELECT 1 FROM audits WHERE id = ?").get(auditId)) {
      throw new SslmemError("not_found", "the audit no longer exists (it was deleted)", { auditId });
    }
  }

  async appendResults(auditId: string, rows: readonly ResultRow[]): Promise<void> {
    for (const row of rows) assertResultRow(row);
    const append = () => this.#db.transaction(() => {
      this.#assertAuditExists(auditId);
      // Upsert: a batch recomputed after a crash replaces its rows instead of duplicating them,
      // and clears any batch-level fields (they are recomputed at finalize).
      const upsert = this.#stmt(
        `INSERT INTO audit_results (audit_id, idx, point_id, role, align_target, align_reference, score, std_err, pairs)
         VALUES (@auditId, @index, @id, @role, @alignTarget, @alignReference, @score, @stdErr, @pairs)
         ON CONFLICT (audit_id, idx) DO UPDATE SET
           point_id = excluded.point_id, role = excluded.role, align_target = excluded.align_target,
           align_reference = excluded.align_reference, score = excluded.score, std_err = excluded.std_err,
           pairs = excluded.pairs, score_normalized = NULL, p_value = NULL, flagged = NULL`,
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
      }
    });
    guard("store results", () => append().immediate());
  }

  async countResults(auditId: string, filter?: ResultFilter): Promise<number> {
    const params = filterParams(filter);
    return guard("count results", () =>
      Number(
        this.#stmt(`SELECT count(*) FROM audit_results WHERE audit_id = @auditId AND ${RESULT_FILTER}`)
          .pluck()
          .get({ auditId, ...params }),
      ),
    );
  }

  async maxCommittedIndex(auditId: string): Promise<number | null> {
    return guard("read results", () => {
      const v = this.#stmt("SELECT max(idx) FROM audit_results WHERE audit_id = ?").pluck().get(auditId);
      return v === null || v === undefined ? null : Number(v);
    });
  }

  async committedIndices(auditId: string, range: IndexRange = {}): Promise<number[]> {
    return guard("read results", () =>
      (
        this.#stmt(
          `SELECT idx FROM audit_results WHERE audit_id = @auditId
           AND (@from IS NULL OR idx >= @from) AND (@to IS NULL OR idx < @to) ORDER BY idx`,
        )
          .pluck()
          .all({ auditId, from: range.from ?? null, to: range.to ?? null }) as number[]
      ).map(Number),
    );
  }

  async finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void> {
    for (const u of updates) {
      assertFinite(u.scoreNormalized, `scoreNormalized of result ${u.index}`);
      if (u.pValue !== undefined) assertFinite(u.pValue, `pValue of result ${u.index}`);
    }
    const finalize = () => this.#db.transaction(() => {
      const update = this.#stmt(
        `UPDATE audit_results SET score_normalized = ?, p_value = ?, flagged = ? WHERE audit_id = ? AND idx = ?`,
      );
      for (const u of updates) {
        const r = update.run(u.scoreNormalized, u.pValue ?? null, u.flagged ? 1 : 0, auditId, u.index);
        if (r.changes !== 1) {
          throw new SslmemError("internal", `cannot finalize result ${u.index}: it was never stored`, { auditId });
        }
      }
    });
    guard("finalize results", () => finalize().immediate());
  }

  async readResults(auditId: string, options: ReadResultsOptions): Promise<Page<StoredResult>> {
    assertLimit(options.limit, MAX_RESULTS_LIMIT);
    const params = filterParams(options);
    const order = options.order ?? "index";
    if (order !== "index" && order !== "scoreNormalizedDesc") {
      throw new SslmemError("validation_failed", "order must be 'index' or 'scoreNormalizedDesc'");
    }
    if (options.offset !== undefined && (!Number.isSafeInteger(options.offset) || options.offset < 0)) {
      throw new SslmemError("validation_failed", "offset must be a non-negative integer");
    }
    const cursor = options.cursor ?? null;
    if (cursor !== null && options.offset !== undefined) {
      throw new SslmemError("validation_failed", "give either cursor or offset, not both");
    }
    const limit = options.limit;
    return guard("read results", () => {
      if (order === "index") {
        // Keyset pagination on the primary key: page N costs the same as page 1.
        let after = -1;
        if (cursor !== null) after = parseIndexCursor(cursor);
        const rows = this.#stmt(
          `SELECT ${RESULT_COLUMNS} FROM audit_results
           WHERE audit_id = @auditId AND idx > @after AND ${RESULT_FILTER}
           ORDER BY idx LIMIT @limit OFFSET @offset`,
        ).all({ auditId, after, limit: limit + 1, offset: options.offset ?? 0, ...params }) as ResultDbRow[];
        const items = rows.slice(0, limit).map(toResult);
        const nextCursor = rows.length > limit ? indexCursor(items[items.length - 1].index) : null;
        return { items, nextCursor };
      }
      let offset = options.offset ?? 0;
      if (cursor !== null) offset = parseOffsetCursor(cursor);
      // NULLS LAST spelled out: PostgreSQL sorts NULLs first in DESC order, SQLite last.
      const rows = this.#stmt(
        `SELECT ${RESULT_COLUMNS} FROM audit_results WHERE audit_id = @auditId AND ${RESULT_FILTER}
         ORDER BY score_normalized DESC NULLS LAST, idx LIMIT @limit OFFSET @offset`,
      ).all({ auditId, limit: limit + 1, offset, ...params }) as ResultDbRow[];
      const items = rows.slice(0, limit).map(toResult);
      return { items, nextCursor: rows.length > limit ? offsetCursor(offset + limit) : null };
    });
  }

  async *iterateResults(auditId: string, options: IterateResultsOptions = {}): AsyncIterable<StoredResult> {
    const params = filterParams(options);
    const chunk = options.chunkSize ?? DEFAULT_CHUNK;
    assertLimit(chunk, MAX_RESULTS_LIMIT);
    let after = -1;
    for (;;) {
      // One short query per chunk (no read transaction held open across the consumer's awaits,
      // so a slow download never blocks WAL checkpoints).
      const rows = guard("read results", () =>
        this.#stmt(
          `SELECT ${RESULT_COLUMNS} FROM audit_results
           WHERE audit_id = @auditId AND idx > @after AND ${RESULT_FILTER} ORDER BY idx LIMIT @limit`,
        ).all({ auditId, after, limit: chunk, ...params }) as ResultDbRow[],
      );
      for (const row of rows) yield toResult(row);
      if (rows.length < chunk) return;
      after = rows[rows.length - 1].idx;
    }
  }

  // --- events --------------------------------------------------------------------------------

  async appendEvent(auditId: string, event: AuditEventInput): Promise<number> {
    if (typeof event.type !== "string" || event.type.length === 0) {
      throw new SslmemError("internal", "an event needs a type");
    }
    const data = JSON.stringify(event.data ?? {});
    const append = () => this.#db.transaction((): number => {
      // The counter lives on the audit row: the seq is allocated under the write lock, so it is
      // gap-free and monotonic even with several writers.
      const seq = this.#stmt("UPDATE audits SET last_event_seq = last_event_seq + 1 WHERE id = ? RETURNING last_event_seq")
        .pluck()
        .get(auditId) as number | undefined;
      if (seq === undefined) throw new SslmemError("not_found", "the audit no longer exists (it was deleted)", { auditId });
      this.#stmt("INSERT INTO audit_events (audit_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)").run(
        auditId,
        seq,
        event.type,
        data,
        this.#now(),
      );
      return seq;
    });
    return guard("store an event", () => append().immediate());
  }

  async readEvents(auditId: string, afterSeq: number, limit = 1000): Promise<StoredEvent[]> {
    assertLimit(limit, MAX_RESULTS_LIMIT);
    return guard("read events", () => {
      const rows = this.#stmt(
        "SELECT seq, type, data, created_at FROM audit_events WHERE audit_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      ).all(auditId, Math.max(0, Math.floor(afterSeq) || 0), limit) as {
        seq: number;
        type: string;
        data: string;
        created_at: number;
      }[];
      return rows.map((r) => ({ seq: r.seq, type: r.type, data: JSON.parse(r.data) as JsonObject, createdAt: iso(r.created_at)! }));
    });
  }

  // --- blobs ---------------------------------------------------------------------------------

  async recordBlob(blob: BlobRecordInput): Promise<void> {
    assertDigest(blob.digest);
    assertTenant(blob.tenant);
    if (!Number.isSafeInteger(blob.size) || blob.size < 0) {
      throw new SslmemError("validation_failed", "blob size must be a non-negative integer");
    }
    guard("record a blob", () => {
      this.#stmt(
        `INSERT INTO blobs (tenant, digest, size, kind, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant, digest) DO UPDATE SET size = excluded.size, kind = coalesce(excluded.kind, blobs.kind)`,
      ).run(blob.tenant, blob.digest, blob.size, blob.kind ?? null, this.#now());
    });
  }

  async tenantUsage(tenant: string): Promise<TenantUsage> {
    return guard("read tenant usage", () => ({
      blobBytes: this.#stmt("SELECT coalesce(sum(size), 0) FROM blobs WHERE tenant = ?").pluck().get(tenant) as number,
      audits: this.#stmt("SELECT count(*) FROM audits WHERE tenant = ?").pluck().get(tenant) as number,
    }));
  }

  async tenantHasBlob(tenant: string, digest: string): Promise<boolean> {
    return guard("read blob ownership", () => !!this.#stmt("SELECT 1 FROM blobs WHERE tenant = ? AND digest = ?").get(tenant, digest));
  }

  async blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[] = AUDIT_INPUT_ROLES): Promise<string[]> {
    assertInputRoles(roles);
    return guard("read blob references", () =>
      this.#stmt(
        `SELECT DISTINCT ab.digest FROM audit_blobs ab
         WHERE ab.audit_id = @auditId AND ab.role IN (SELECT value FROM json_each(@roles))
           AND NOT EXISTS (SELECT 1 FROM audit_blobs o WHERE o.digest = ab.digest AND o.audit_id <> ab.audit_id)
         ORDER BY ab.digest`,
      )
        .pluck()
        .all({ auditId, roles: JSON.stringify(roles) }) as string[],
    );
  }

  async markInputsPurged(auditId: string, roles: readonly AuditInputRole[]): Promise<void> {
    assertInputRoles(roles);
    const mark = () => this.#db.transaction(() => {
      this.#stmt("DELETE FROM audit_blobs WHERE audit_id = ? AND role IN (SELECT value FROM json_each(?))").run(
        auditId,
        JSON.stringify(roles),
      );
      this.#stmt("UPDATE audits SET inputs_purged_at = coalesce(inputs_purged_at, ?) WHERE id = ?").run(this.#now(), auditId);
    });
    guard("mark inputs purged", () => mark().immediate());
  }

  async forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult> {
    const forget = () => this.#db.transaction((): ForgetBlobResult => {
      const stillUsed = this.#stmt(
        "SELECT 1 FROM audit_blobs ab JOIN audits a ON a.id = ab.audit_id WHERE ab.digest = ? AND a.tenant = ?",
      ).get(digest, tenant);
      if (stillUsed) return { forgotten: false, orphaned: false };
      this.#stmt("DELETE FROM blobs WHERE tenant = ? AND digest = ?").run(tenant, digest);
      const owned = this.#stmt("SELECT 1 FROM blobs WHERE digest = ?").get(digest);
      const referenced = this.#stmt("SELECT 1 FROM audit_blobs WHERE digest = ?").get(digest);
      return { forgotten: true, orphaned: !owned && !referenced };
    });
    return guard("forget a blob", () => forget().immediate());
  }

  async listFinishedAuditsOlderThan(hours: number, limit = 100): Promise<AuditRecord[]> {
    if (!Number.isFinite(hours) || hours < 0) {
      throw new SslmemError("validation_failed", "hours must be a non-negative number");
    }
    assertLimit(limit, MAX_LIST_LIMIT);
    const before = this.#now() - hours * 3_600_000;
    return guard("list finished audits", () =>
      (
        this.#stmt(
          `SELECT * FROM audits WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL AND finished_at < ?
           ORDER BY finished_at, id LIMIT ?`,
        ).all(before, limit) as AuditRow[]
      ).map(toAudit),
    );
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async healthCheck(): Promise<void> {
    const nonce = randomUUID();
    const probe = () => this.#db.transaction(() => {
      this.#stmt(
        `INSERT INTO health_probe (id, nonce, checked_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET nonce = excluded.nonce, checked_at = excluded.checked_at`,
      ).run(nonce, this.#now());
      return this.#stmt("SELECT nonce FROM health_probe WHERE id = 1").pluck().get();
    });
    guard("pass its health check", () => {
      if (probe().immediate() !== nonce) throw new Error("health probe read back a different value");
    });
  }

  async close(): Promise<void> {
    if (this.#db.open) {
      this.#statements.clear();
      this.#db.close();
    }
  }
}


export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(options);
}
