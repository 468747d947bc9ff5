/**
 * Numbered schema migrations of the PostgreSQL store (scaled mode). Never edit a released
 * migration: add a new one.
 *
 * The schema mirrors the SQLite one so both stores share semantics: times are BIGINT milliseconds
 * since the epoch (the store's injected clock, not the server's), JSON is `json` (kept as sent,
 * key order included — jsonb would reorder keys). Ids and digests use the "C" collation so that
 * `ORDER BY id` and the `id < cursor` page condition compare bytes, exactly as SQLite does,
 * whatever the database's locale. Child tables cascade so deleting an audit is one statement.
 *
 * Several replicas start at once in Kubernetes: the whole run (check, DDL, bookkeeping) happens in
 * one transaction under a transaction-scoped advisory lock, so one replica migrates and the others
 * wait, then find nothing left to do. A failing migration rolls back with every earlier one of the
 * same run.
 */
import type { ClientBase } from "pg";
import { SslmemError } from "../core/errors.ts";
import { pendingMigrations } from "./store-errors.ts";

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/** First key of the two-key advisory lock; the second is a hash of the schema name. */
export const MIGRATION_LOCK_CLASS = 0x55_4d_45_4d; // "UMEM"

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE tokens (
        id          TEXT COLLATE "C" PRIMARY KEY,
        tenant      TEXT NOT NULL,
        hash        BYTEA NOT NULL UNIQUE,
        created_at  BIGINT NOT NULL,
        revoked_at  BIGINT
      );
      CREATE INDEX tokens_tenant ON tokens (tenant, id);

      CREATE TABLE audits (
        id               TEXT COLLATE "C" PRIMARY KEY,
        tenant           TEXT NOT NULL,
        state            TEXT NOT NULL
                         CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        config           JSON NOT NULL,
        inputs           JSON NOT NULL,
        idempotency_key  TEXT,
        request_hash     TEXT,
        created_at       BIGINT NOT NULL,
        updated_at       BIGINT NOT NULL,
        started_at       BIGINT,
        finished_at      BIGINT,
        progress         JSON,
        summary          JSON,
        error            JSON,
        report           JSON,
        attempt          INTEGER NOT NULL DEFAULT 0,
        -- SSE seq counter: incremented under the row lock in the event's own transaction.
        last_event_seq   BIGINT NOT NULL DEFAULT 0,
        inputs_purged_at BIGINT,
        -- NULL keys are distinct: audits without an Idempotency-Key never collide.
        CONSTRAINT audits_idempotency UNIQUE (tenant, idempotency_key)
      );
      CREATE INDEX audits_tenant ON audits (tenant, id);
      CREATE INDEX audits_state ON audits (state, created_at, id);
      CREATE INDEX audits_retention ON audits (finished_at, id)
        WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL;

      CREATE TABLE audit_blobs (
        audit_id  TEXT COLLATE "C" NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        role      TEXT NOT NULL CHECK (role IN ('target', 'reference', 'candidates', 'controls')),
        digest    TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (audit_id, role)
      );
      CREATE INDEX audit_blobs_digest ON audit_blobs (digest);

      CREATE TABLE blobs (
        tenant      TEXT NOT NULL,
        digest      TEXT COLLATE "C" NOT NULL,
        size        BIGINT NOT NULL,
        kind        TEXT,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant, digest)
      );
      CREATE INDEX blobs_digest ON blobs (digest);

      CREATE TABLE audit_results (
        audit_id          TEXT COLLATE "C" NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        idx               BIGINT NOT NULL,
        point_id          TEXT NOT NULL,
        role              TEXT NOT NULL CHECK (role IN ('candidate', 'control')),
        align_target      DOUBLE PRECISION NOT NULL,
        align_reference   DOUBLE PRECISION NOT NULL,
        score             DOUBLE PRECISION NOT NULL,
        std_err           DOUBLE PRECISION NOT NULL,
        pairs             BIGINT NOT NULL,
        score_normalized  DOUBLE PRECISION,
        p_value           DOUBLE PRECISION,
        flagged           BOOLEAN,
        PRIMARY KEY (audit_id, idx)
      );
      CREATE INDEX audit_results_score ON audit_results (audit_id, score_normalized DESC NULLS LAST, idx);

      CREATE TABLE audit_events (
        audit_id    TEXT COLLATE "C" NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        seq         BIGINT NOT NULL,
        type        TEXT NOT NULL,
        data        JSON NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (audit_id, seq)
      );

      CREATE TABLE health_probe (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        nonce       TEXT NOT NULL,
        checked_at  BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "audit crash count",
    // Process deaths while the audit ran, for crash-loop protection (in-process-runner.ts).
    sql: "ALTER TABLE audits ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;",
  },
  {
    version: 3,
    name: "outbox and watches",
    // Deliveries that must survive a restart (src/outbox/) and the registry watches with the
    // triggers they have seen (src/watches/). Outbox rows outlive their audit on purpose: a
    // deleted audit's callback still says so; the dispatcher drops what it can no longer send.
    sql: `
      CREATE TABLE outbox (
        id          TEXT COLLATE "C" PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        tenant      TEXT NOT NULL,
        audit_id    TEXT COLLATE "C" NOT NULL,
        payload     JSON NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts    INTEGER NOT NULL,
        next_at     BIGINT NOT NULL,
        last_error  TEXT,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state = 'pending';
      CREATE INDEX outbox_audit ON outbox (audit_id);

      CREATE TABLE watches (
        id          TEXT COLLATE "C" PRIMARY KEY,
        tenant      TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('mlflow', 'huggingface', 'oci')),
        spec        JSON NOT NULL,
        secret      TEXT NOT NULL,
        created_at  BIGINT NOT NULL
      );
      CREATE INDEX watches_tenant ON watches (tenant, id);

      CREATE TABLE watch_triggers (
        watch_id    TEXT COLLATE "C" NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
        key         TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (watch_id, key)
      );
    `,
  },
  {
    version: 4,
    name: "layermem rows",
    // LayerMem (core/layermem.ts): the layers an audit measures, and each point's score on each
    // layer. A point's layer rows hang off its result row (written in the same transaction,
    // removed with it), so they can never outlive it or exist without it.
    sql: `
      CREATE TABLE audit_layers (
        audit_id   TEXT COLLATE "C" NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        layer      INTEGER NOT NULL,
        name       TEXT NOT NULL,
        target     TEXT NOT NULL,
        reference  TEXT NOT NULL,
        final      BOOLEAN NOT NULL,
        shape      JSON NOT NULL,
        dim        BIGINT NOT NULL,
        PRIMARY KEY (audit_id, layer)
      );

      CREATE TABLE audit_result_layers (
        audit_id         TEXT COLLATE "C" NOT NULL,
        idx              BIGINT NOT NULL,
        layer            INTEGER NOT NULL,
        align_target     DOUBLE PRECISION NOT NULL,
        align_reference  DOUBLE PRECISION NOT NULL,
        score            DOUBLE PRECISION NOT NULL,
        std_err          DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (audit_id, idx, layer),
        FOREIGN KEY (audit_id, idx) REFERENCES audit_results (audit_id, idx) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 5,
    name: "audit kind and unit results",
    // As SQLite's version 5: UnitMem audits and their per-unit rows (O(units)).
    sql: `
      ALTER TABLE audits ADD COLUMN kind TEXT NOT NULL DEFAULT 'sslmem' CHECK (kind IN ('sslmem', 'unitmem'));

      CREATE TABLE audit_unit_results (
        audit_id   TEXT COLLATE "C" NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        idx        BIGINT NOT NULL,
        layer      TEXT NOT NULL,
        unit       BIGINT NOT NULL,
        unit_mem   DOUBLE PRECISION NOT NULL,
        point_id   TEXT NOT NULL,
        mu_max     DOUBLE PRECISION NOT NULL,
        mu_others  DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (audit_id, idx)
      );
      CREATE INDEX audit_unit_results_unit_mem ON audit_unit_results (audit_id, unit_mem DESC, idx);
    `,
  },
  {
    version: 6,
    name: "watch trigger leases",
    // As SQLite's version 6: a version claim is pending until its audit is created (NULL: settled).
    sql: `
      ALTER TABLE watch_triggers ADD COLUMN lease_until BIGINT;
    `,
  },
];

/**
 * Applies the pending migrations on `client` (a dedicated connection, not in a transaction).
 * `schema`, when given, is created if missing; otherwise the connection's current schema is used.
 * Returns the schema version after the run.
 */
export async function applyPgMigrations(
  client: ClientBase,
  migrations: readonly PgMigration[],
  now: () => number,
  schema?: string,
): Promise<number> {
  await client.query("BEGIN");
  try {
    // Keyed by schema: replicas of one deployment serialize, separate schemas (tests) do not.
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext(coalesce($2::text, current_schema(), '')))", [
      MIGRATION_LOCK_CLASS,
      schema ?? null,
    ]);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    );
    const { rows } = await client.query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations");
    const current = rows[0].v;
    const pending = pendingMigrations(migrations, current);
    for (const m of pending) {
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
        m.version,
        m.name,
        now(),
      ]);
    }
    await client.query("COMMIT");
    return pending.length ? pending[pending.length - 1].version : current;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are restricted to plain lowercase identifiers (no quoting surprises). */
export function assertSchemaName(schema: string): void {
  if (!IDENT.test(schema)) {
    throw new SslmemError("invalid_config", "a PostgreSQL schema name must be lowercase letters, digits and '_' (up to 63)");
  }
}

export function quoteIdent(name: string): string {
  assertSchemaName(name);
  return `"${name}"`;
}
