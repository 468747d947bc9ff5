/**
 * The scaled-mode store: PostgreSQL through a `pg` connection pool, shared by API replicas and
 * worker processes. Same contract and semantics as the embedded SqliteStore
 * (test/store/store-contract.ts runs against both); what differs is how races between processes
 * are settled, since there is no single write lock:
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
import { tenantQueueFull } from "./tenant-share.ts";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { assertAuditCursor, indexCursor, offsetCursor, parseIndexCursor, parseOffsetCursor } from "./cursors.ts";
import { createIdGenerator, type IdGenerator } from "./ids.ts";
import { PG_MIGRATIONS, applyPgMigrations, assertSchemaName, type PgMigration } from "./pg-migrations.ts";
import {
  AUDIT_COLUMNS,
  RESULT_COLUMNS,
  iso,
  pgTypes,
  resultFilter,
  toAudit,
  toResult,
  type PgAuditRow,
  type PgResultRow,
} from "./pg-rows.ts";
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

const DEFAULT_CHUNK = 1000;
/** Rows per statement inside a batch transaction (each column travels as one array parameter). */
const WRITE_CHUNK = 5000;
const TX_ATTEMPTS = 3;
const RETRYABLE_CODES = new Set(["40001", "40P01"]); // serialization_failure, deadlock_detected
const HEALTH_TIMEOUT_MS = 5000;
/** pg_advisory_xact_lock key of audit admission (createAudit with maxQueued); any fixed bigint. */
const ADMISSION_LOCK = 0x55_4d_51; // "UMQ"

type Queryable = Pick<pg.ClientBase, "query">;

/** Wraps driver errors (connection refused, closed pool, I/O) into `store_failure`, keeping the cause. */
async function guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isSslmemError(e)) throw e;
    throw new SslmemError("store_failure", `the store could not ${operation}`, undefined, { cause: e });
  }
}

function isRetryable(e: unknown): boolean {
  return !isSslmemError(e) && RETRYABLE_CODES.has(String((e as { code?: unknown })?.code));
}

const deletedAudit = (auditId: string) =>
  new SslmemError("not_found", "the audit no longer exists (it was deleted)", { auditId });

/** One entry per index, the last one given winning (as successive upserts would), in index order. */
function lastPerIndex<T extends { index: number }>(items: readonly T[]): T[] {
  const byIndex = new Map<number, T>();
  for (const item of items) byIndex.set(item.index, item);
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const jsonParam = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

export class PgStore implements Store {
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #newId: IdGenerator;
  #closed = false;

  private constructor(pool: pg.Pool, now: () => number) {
    this.#pool = pool;
    this.#now = now;
    this.#newId = createIdGenerator(now);
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
        if (!isSslmemError(e)) broken = e as Error;
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
    return new PgStore(pool, now);
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

  async #query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], on: Queryable = this.#pool) {
    return on.query<R>(sql, params);
  }

  // --- diagnostics (PostgreSQL only) ---------------------------------------------------------

  /** Highest applied migration. */
  async schemaVersion(): Promise<number> {
    return guard("read its schema version", async () => {
      const { rows } = await this.#query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations");
      return rows[0].v;
    });
  }

  // --- tokens --------------------------------------------------------------------------------

  async createToken(tenant: string): Promise<CreatedToken> {
    assertTenant(tenant);
    return guard("create a token", async () => {
      const id = this.#newId("tok_");
      const token = generateToken();
      await this.#query("INSERT INTO tokens (id, tenant, hash, created_at) VALUES ($1, $2, $3, $4)", [
        id,
        tenant,
        hashToken(token),
        this.#now(),
      ]);
      return { id, token };
    });
  }

  async authenticate(token: string): Promise<TokenPrincipal | null> {
    if (typeof token !== "string" || !looksLikeToken(token)) return null;
    const hash = hashToken(token);
    return guard("authenticate a token", async () => {
      const { rows } = await this.#query<{ id: string; tenant: string; hash: Buffer }>(
        "SELECT id, tenant, hash FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        [hash],
      );
      const row = rows[0];
      if (!row || !tokenHashesEqual(row.hash, hash)) return null;
      return { tenant: row.tenant, tokenId: row.id };
    });
  }

  async revokeToken(id: string): Promise<boolean> {
    return guard("revoke a token", async () => {
      const r = await this.#query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [this.#now(), id]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async listTokens(tenant: string): Promise<TokenInfo[]> {
    return guard("list tokens", async () => {
      const { rows } = await this.#query<{ id: string; tenant: string; created_at: number; revoked_at: number | null }>(
        "SELECT id, tenant, created_at, revoked_at FROM tokens WHERE tenant = $1 ORDER BY id",
        [tenant],
      );
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
    const key = input.idempotencyKey;

    /** The audit already stored under the key: a replay, or a conflict if the body differs. */
    const replay = (existing: PgAuditRow): CreateAuditResult => {
      if (existing.request_hash !== requestHash) {
        throw new SslmemError(
          "idempotency_conflict",
          "this Idempotency-Key was already used with a different request; send the same request again or use a new key",
          { auditId: existing.id },
        );
      }
      return { audit: toAudit(existing), created: false };
    };
    const byKey = async (c: Queryable): Promise<PgAuditRow | undefined> => {
      const { rows } = await this.#query<PgAuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = $1 AND idempotency_key = $2`,
        [input.tenant, key],
        c,
      );
      return rows[0];
    };

    return guard("create an audit", () =>
      this.#transaction(async (c): Promise<CreateAuditResult> => {
        if (key !== undefined) {
          const existing = await byKey(c);
          if (existing) return replay(existing);
        }
        const roles = AUDIT_INPUT_ROLES.filter((role) => storedInputs[role] !== undefined);
        const digests = roles.map((role) => storedInputs[role]!);
        // FOR SHARE: a concurrent forgetBlob of one of these waits until this audit references it.
        const owned = await this.#query<{ digest: string }>(
          "SELECT digest FROM blobs WHERE tenant = $1 AND digest = ANY($2::text[]) FOR SHARE",
          [input.tenant, digests],
          c,
        );
        const ownedDigests = new Set(owned.rows.map((r) => r.digest));
        for (const role of roles) {
          const digest = storedInputs[role]!;
          if (!ownedDigests.has(digest)) {
            throw new SslmemError(
              "blob_not_found",
              `the ${role} blob ${digest} has not been uploaded; PUT it to /v1/blobs/${digest} first`,
              { input: role, digest },
            );
          }
        }
        if (input.maxQueued !== undefined) {
          // Admission control: the lock (held to commit) serializes admissions across replicas,
          // so two transactions cannot both see room for the last queued audit.
          await this.#query("SELECT pg_advisory_xact_lock($1)", [ADMISSION_LOCK], c);
          const { rows: queued } = await this.#query<{ n: number }>("SELECT count(*)::int AS n FROM audits WHERE state = 'queued'", [], c);
          if (queued[0].n >= input.maxQueued) {
            throw new SslmemError("queue_full", `${input.maxQueued} audits are already waiting; retry later`, { maxQueued: input.maxQueued });
          }
        }
        if (input.maxQueuedPerTenant !== undefined) {
          await this.#query("SELECT pg_advisory_xact_lock($1)", [ADMISSION_LOCK], c);
          const { rows: own } = await this.#query<{ n: number }>("SELECT count(*)::int AS n FROM audits WHERE state = 'queued' AND tenant = $1", [input.tenant], c);
          if (own[0].n >= input.maxQueuedPerTenant) throw tenantQueueFull(input.maxQueuedPerTenant);
        }
        const id = this.#newId("aud_");
        const now = this.#now();
        const inserted = await this.#query<PgAuditRow>(
          `INSERT INTO audits (id, tenant, state, config, inputs, idempotency_key, request_hash, created_at, updated_at)
           VALUES ($1, $2, 'queued', $3::json, $4::json, $5, $6, $7, $7)
           ON CONFLICT (tenant, idempotency_key) DO NOTHING
           RETURNING ${AUDIT_COLUMNS}`,
          [id, input.tenant, config, JSON.stringify(storedInputs), key ?? null, requestHash, now],
          c,
        );
        if (inserted.rows.length === 0) {
          // Another replica committed the same key after our first look: its audit is the one.
          const winner = await byKey(c);
          if (!winner) throw new Error("idempotency key conflicted but no audit holds it");
          return replay(winner);
        }
        await this.#query(
          "INSERT INTO audit_blobs (audit_id, role, digest) SELECT $1, * FROM unnest($2::text[], $3::text[])",
          [id, roles, digests],
          c,
        );
        return { audit: toAudit(inserted.rows[0]), created: true };
      }),
    );
  }

  async #auditById(id: string): Promise<AuditRecord | null> {
    const { rows } = await this.#query<PgAuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = $1`, [id]);
    return rows[0] ? toAudit(rows[0]) : null;
  }

  async getAudit(tenant: string, id: string): Promise<AuditRecord | null> {
    return guard("read an audit", async () => {
      const { rows } = await this.#query<PgAuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audits WHERE id = $1 AND tenant = $2`, [id, tenant]);
      return rows[0] ? toAudit(rows[0]) : null;
    });
  }

  async getAuditInternal(id: string): Promise<AuditRecord | null> {
    return guard("read an audit", () => this.#auditById(id));
  }

  async listAudits(tenant: string, options: ListAuditsOptions): Promise<Page<AuditRecord>> {
    assertLimit(options.limit, MAX_LIST_LIMIT);
    const cursor = options.cursor ?? null;
    if (cursor !== null) assertAuditCursor(cursor);
    return guard("list audits", async () => {
      // The cursor is the last id of the previous page: ids sort by creation (byte order, the
      // column is COLLATE "C"), so "older than the cursor" is one index range scan.
      const { rows } = await this.#query<PgAuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audits WHERE tenant = $1 AND ($2::text IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3`,
        [tenant, cursor, options.limit + 1],
      );
      const more = rows.length > options.limit;
      const items = rows.slice(0, options.limit).map(toAudit);
      return { items, nextCursor: more ? items[items.length - 1].id : null };
    });
  }

  async listAuditsByState(states: readonly AuditState[]): Promise<AuditRecord[]> {
    assertAuditStates(states);
    return guard("list audits", async () => {
      const { rows } = await this.#query<PgAuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audits WHERE state = ANY($1::text[]) ORDER BY created_at, id`,
        [states],
      );
      return rows.map(toAudit);
    });
  }

  async countAuditsByState(): Promise<Record<AuditState, number>> {
    return guard("count audits", async () => {
      const counts = Object.fromEntries(AUDIT_STATES.map((s) => [s, 0])) as Record<AuditState, number>;
      const { rows } = await this.#query<{ state: AuditState; n: number }>("SELECT state, count(*) AS n FROM audits GROUP BY state");
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
    const params: unknown[] = [id, to, this.#now(), to === "running", TERMINAL_STATES.includes(to), from];
    const sets: string[] = [];
    for (const column of ["progress", "summary", "error", "report"] as const) {
      const value = patch[column];
      if (value === undefined) continue;
      params.push(jsonParam(value));
      sets.push(`, ${column} = $${params.length}::json`);
    }
    return guard("update an audit", async () => {
      const r = await this.#query(
        `UPDATE audits SET
           state = $2,
           updated_at = $3::bigint,
           started_at = CASE WHEN $4::boolean THEN coalesce(started_at, $3::bigint) ELSE started_at END,
           attempt = attempt + CASE WHEN $4::boolean THEN 1 ELSE 0 END,
           finished_at = CASE WHEN $5::boolean THEN $3::bigint ELSE finished_at END
           ${sets.join("")}
         WHERE id = $1 AND state = ANY($6::text[])`,
        params,
      );
      return (r.rowCount ?? 0) > 0;
    });
  }

  async setProgress(id: string, progress: AuditProgress): Promise<boolean> {
    return guard("update progress", async () => {
      const r = await this.#query("UPDATE audits SET progress = $1::json, updated_at = $2 WHERE id = $3 AND state = 'running'", [
        JSON.stringify(progress),
        this.#now(),
        id,
      ]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async deleteAudit(tenant: string, id: string): Promise<boolean> {
    // Results, events and input references go with the row (ON DELETE CASCADE), in one statement.
    return guard("delete an audit", async () => {
      const r = await this.#query("DELETE FROM audits WHERE id = $1 AND tenant = $2", [id, tenant]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  // --- per-point results ---------------------------------------------------------------------

  async appendResults(auditId: string, rows: readonly ResultRow[]): Promise<void> {
    for (const row of rows) assertResultRow(row);
    const batch = lastPerIndex(rows);
    await guard("store results", () =>
      this.#transaction(async (c) => {
        // KEY SHARE: a concurrent DELETE of the audit waits for this batch (then cascades it away).
        const audit = await this.#query("SELECT 1 FROM audits WHERE id = $1 FOR KEY SHARE", [auditId], c);
        if (audit.rows.length === 0) throw deletedAudit(auditId);
        for (const part of chunks(batch, WRITE_CHUNK)) {
          // Upsert: a batch recomputed after a crash (or by a second worker after a stalled shard)
          // replaces its rows instead of duplicating them, and clears the batch-level fields.
          await this.#query(
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
        }
      }),
    );
  }

  async countResults(auditId: string, filter?: ResultFilter): Promise<number> {
    const { role, flaggedOnly } = filterParams(filter);
    return guard("count results", async () => {
      const { rows } = await this.#query<{ n: number }>(
        `SELECT count(*) AS n FROM audit_results WHERE audit_id = $1 AND ${resultFilter(2)}`,
        [auditId, role, flaggedOnly === 1],
      );
      return rows[0].n;
    });
  }

  async maxCommittedIndex(auditId: string): Promise<number | null> {
    return guard("read results", async () => {
      const { rows } = await this.#query<{ m: number | null }>("SELECT max(idx) AS m FROM audit_results WHERE audit_id = $1", [auditId]);
      return rows[0].m;
    });
  }

  async committedIndices(auditId: string, range: IndexRange = {}): Promise<number[]> {
    return guard("read results", async () => {
      const { rows } = await this.#query<{ idx: number }>(
        `SELECT idx FROM audit_results WHERE audit_id = $1
         AND ($2::bigint IS NULL OR idx >= $2) AND ($3::bigint IS NULL OR idx < $3) ORDER BY idx`,
        [auditId, range.from ?? null, range.to ?? null],
      );
      return rows.map((r) => r.idx);
    });
  }

  async finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void> {
    for (const u of updates) {
      assertFinite(u.scoreNormalized, `scoreNormalized of result ${u.index}`);
      if (u.pValue !== undefined) assertFinite(u.pValue, `pValue of result ${u.index}`);
    }
    const batch = lastPerIndex(updates);
    await guard("finalize results", () =>
      this.#transaction(async (c) => {
        for (const part of chunks(batch, WRITE_CHUNK)) {
          const indices = part.map((u) => u.index);
          const r = await this.#query(
            `UPDATE audit_results r SET score_normalized = u.sn, p_value = u.pv, flagged = u.fl
             FROM unnest($2::bigint[], $3::float8[], $4::float8[], $5::boolean[]) AS u (idx, sn, pv, fl)
             WHERE r.audit_id = $1 AND r.idx = u.idx`,
            [auditId, indices, part.map((u) => u.scoreNormalized), part.map((u) => u.pValue ?? null), part.map((u) => u.flagged)],
            c,
          );
          if (r.rowCount !== part.length) {
            const missing = await this.#query<{ idx: number }>(
              `SELECT u.idx FROM unnest($2::bigint[]) AS u (idx)
               WHERE NOT EXISTS (SELECT 1 FROM audit_results r WHERE r.audit_id = $1 AND r.idx = u.idx)
               ORDER BY u.idx LIMIT 1`,
              [auditId, indices],
              c,
            );
            // Throwing rolls the whole batch back, earlier chunks included.
            throw new SslmemError("internal", `cannot finalize result ${missing.rows[0]?.idx}: it was never stored`, { auditId });
          }
        }
      }),
    );
  }

  async readResults(auditId: string, options: ReadResultsOptions): Promise<Page<StoredResult>> {
    assertLimit(options.limit, MAX_RESULTS_LIMIT);
    const { role, flaggedOnly } = filterParams(options);
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
    return guard("read results", async () => {
      if (order === "index") {
        // Keyset pagination on the primary key: page N costs the same as page 1.
        const after = cursor !== null ? parseIndexCursor(cursor) : -1;
        const { rows } = await this.#query<PgResultRow>(
          `SELECT ${RESULT_COLUMNS} FROM audit_results
           WHERE audit_id = $1 AND idx > $2 AND ${resultFilter(3)}
           ORDER BY idx LIMIT $5 OFFSET $6`,
          [auditId, after, role, flaggedOnly === 1, limit + 1, options.offset ?? 0],
        );
        const items = rows.slice(0, limit).map(toResult);
        const nextCursor = rows.length > limit ? indexCursor(items[items.length - 1].index) : null;
        return { items, nextCursor };
      }
      const offset = cursor !== null ? parseOffsetCursor(cursor) : (options.offset ?? 0);
      // NULLS LAST spelled out: PostgreSQL sorts NULLs first in DESC order, SQLite last.
      const { rows } = await this.#query<PgResultRow>(
        `SELECT ${RESULT_COLUMNS} FROM audit_results WHERE audit_id = $1 AND ${resultFilter(2)}
         ORDER BY score_normalized DESC NULLS LAST, idx LIMIT $4 OFFSET $5`,
        [auditId, role, flaggedOnly === 1, limit + 1, offset],
      );
      const items = rows.slice(0, limit).map(toResult);
      return { items, nextCursor: rows.length > limit ? offsetCursor(offset + limit) : null };
    });
  }

  async *iterateResults(auditId: string, options: IterateResultsOptions = {}): AsyncIterable<StoredResult> {
    const { role, flaggedOnly } = filterParams(options);
    const chunk = options.chunkSize ?? DEFAULT_CHUNK;
    assertLimit(chunk, MAX_RESULTS_LIMIT);
    let after = -1;
    for (;;) {
      // One short query per chunk: no transaction or connection held across the consumer's awaits.
      const { rows } = await guard("read results", () =>
        this.#query<PgResultRow>(
          `SELECT ${RESULT_COLUMNS} FROM audit_results
           WHERE audit_id = $1 AND idx > $2 AND ${resultFilter(3)} ORDER BY idx LIMIT $5`,
          [auditId, after, role, flaggedOnly === 1, chunk],
        ),
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
    return guard("store an event", () =>
      this.#transaction(async (c) => {
        // The UPDATE locks the audit row until COMMIT: concurrent appenders (any process) queue
        // here, so seqs are gap-free and become visible in seq order.
        const bumped = await this.#query<{ seq: number }>(
          "UPDATE audits SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq AS seq",
          [auditId],
          c,
        );
        const seq = bumped.rows[0]?.seq;
        if (seq === undefined) throw deletedAudit(auditId);
        await this.#query(
          "INSERT INTO audit_events (audit_id, seq, type, data, created_at) VALUES ($1, $2, $3, $4::json, $5)",
          [auditId, seq, event.type, data, this.#now()],
          c,
        );
        return seq;
      }),
    );
  }

  async readEvents(auditId: string, afterSeq: number, limit = 1000): Promise<StoredEvent[]> {
    assertLimit(limit, MAX_RESULTS_LIMIT);
    return guard("read events", async () => {
      const { rows } = await this.#query<{ seq: number; type: string; data: StoredEvent["data"]; created_at: number }>(
        "SELECT seq, type, data, created_at FROM audit_events WHERE audit_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        [auditId, Math.max(0, Math.floor(afterSeq) || 0), limit],
      );
      return rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data, createdAt: iso(r.created_at)! }));
    });
  }

  // --- blobs ---------------------------------------------------------------------------------

  async recordBlob(blob: BlobRecordInput): Promise<void> {
    assertDigest(blob.digest);
    assertTenant(blob.tenant);
    if (!Number.isSafeInteger(blob.size) || blob.size < 0) {
      throw new SslmemError("validation_failed", "blob size must be a non-negative integer");
    }
    await guard("record a blob", () =>
      this.#query(
        `INSERT INTO blobs (tenant, digest, size, kind, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, digest) DO UPDATE SET size = excluded.size, kind = coalesce(excluded.kind, blobs.kind)`,
        [blob.tenant, blob.digest, blob.size, blob.kind ?? null, this.#now()],
      ),
    );
  }

  async tenantUsage(tenant: string): Promise<TenantUsage> {
    return guard("read tenant usage", async () => {
      const { rows } = await this.#query<{ bytes: string; audits: number }>(
        "SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE tenant = $1)::text AS bytes, (SELECT count(*) FROM audits WHERE tenant = $1)::int AS audits",
        [tenant],
      );
      return { blobBytes: Number(rows[0].bytes), audits: rows[0].audits };
    });
  }

  async tenantHasBlob(tenant: string, digest: string): Promise<boolean> {
    return guard("read blob ownership", async () =>
      (await this.#query("SELECT 1 FROM blobs WHERE tenant = $1 AND digest = $2", [tenant, digest])).rows.length > 0,
    );
  }

  async blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[] = AUDIT_INPUT_ROLES): Promise<string[]> {
    assertInputRoles(roles);
    return guard("read blob references", async () => {
      const { rows } = await this.#query<{ digest: string }>(
        `SELECT DISTINCT ab.digest FROM audit_blobs ab
         WHERE ab.audit_id = $1 AND ab.role = ANY($2::text[])
           AND NOT EXISTS (SELECT 1 FROM audit_blobs o WHERE o.digest = ab.digest AND o.audit_id <> ab.audit_id)
         ORDER BY ab.digest`,
        [auditId, roles],
      );
      return rows.map((r) => r.digest);
    });
  }

  async markInputsPurged(auditId: string, roles: readonly AuditInputRole[]): Promise<void> {
    assertInputRoles(roles);
    await guard("mark inputs purged", () =>
      this.#transaction(async (c) => {
        await this.#query("DELETE FROM audit_blobs WHERE audit_id = $1 AND role = ANY($2::text[])", [auditId, roles], c);
        await this.#query(
          "UPDATE audits SET inputs_purged_at = coalesce(inputs_purged_at, $1) WHERE id = $2",
          [this.#now(), auditId],
          c,
        );
      }),
    );
  }

  async forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult> {
    return guard("forget a blob", () =>
      this.#transaction(async (c): Promise<ForgetBlobResult> => {
        // Lock the ownership row first: an audit being created with this blob (FOR SHARE) either
        // commits before — and is seen as a reference below — or finds the ownership gone.
        await this.#query("SELECT 1 FROM blobs WHERE tenant = $1 AND digest = $2 FOR UPDATE", [tenant, digest], c);
        const stillUsed = await this.#query(
          "SELECT 1 FROM audit_blobs ab JOIN audits a ON a.id = ab.audit_id WHERE ab.digest = $1 AND a.tenant = $2 LIMIT 1",
          [digest, tenant],
          c,
        );
        if (stillUsed.rows.length > 0) return { forgotten: false, orphaned: false };
        await this.#query("DELETE FROM blobs WHERE tenant = $1 AND digest = $2", [tenant, digest], c);
        const { rows } = await this.#query<{ owned: boolean; referenced: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = $1) AS owned,
                  EXISTS (SELECT 1 FROM audit_blobs WHERE digest = $1) AS referenced`,
          [digest],
          c,
        );
        return { forgotten: true, orphaned: !rows[0].owned && !rows[0].referenced };
      }),
    );
  }

  async listFinishedAuditsOlderThan(hours: number, limit = 100): Promise<AuditRecord[]> {
    if (!Number.isFinite(hours) || hours < 0) {
      throw new SslmemError("validation_failed", "hours must be a non-negative number");
    }
    assertLimit(limit, MAX_LIST_LIMIT);
    // Times are whole milliseconds, so "< ceil(before)" selects exactly what "< before" would.
    const before = Math.ceil(this.#now() - hours * 3_600_000);
    return guard("list finished audits", async () => {
      const { rows } = await this.#query<PgAuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audits
         WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL AND finished_at < $1
         ORDER BY finished_at, id LIMIT $2`,
        [before, limit],
      );
      return rows.map(toAudit);
    });
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async healthCheck(): Promise<void> {
    const nonce = randomUUID();
    await guard("pass its health check", () =>
      this.#transaction(async (c) => {
        // A probe must answer, not hang behind a stuck lock: readiness fails instead.
        await c.query(`SET LOCAL statement_timeout = ${HEALTH_TIMEOUT_MS}`);
        await c.query(
          `INSERT INTO health_probe (id, nonce, checked_at) VALUES (1, $1, $2)
           ON CONFLICT (id) DO UPDATE SET nonce = excluded.nonce, checked_at = excluded.checked_at`,
          [nonce, this.#now()],
        );
        const { rows } = await c.query<{ nonce: string }>("SELECT nonce FROM health_probe WHERE id = 1");
        if (rows[0]?.nonce !== nonce) throw new Error("health probe read back a different value");
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

export function openPgStore(options: PgStoreOptions): Promise<PgStore> {
  return PgStore.open(options);
}
