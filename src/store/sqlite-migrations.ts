/**
 * Numbered schema migrations of the SQLite store, applied in order at open, each in the same
 * transaction as its row in schema_migrations. Never edit a released migration: add a new one.
 *
 * Times are INTEGER milliseconds since the epoch; JSON is TEXT. Child tables cascade on delete so
 * DELETE /v1/audits/{id} is one statement. Results and events are WITHOUT ROWID tables clustered on
 * their natural key (audit, index|seq): an audit's rows are contiguous on disk and an upsert by
 * index is a single B-tree probe.
 */
import type Database from "better-sqlite3";
import { pendingMigrations } from "./store-errors.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        tenant      TEXT NOT NULL,
        hash        BLOB NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
      );
      CREATE INDEX tokens_tenant ON tokens (tenant, id);

      CREATE TABLE audits (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        state            TEXT NOT NULL
                         CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        config           TEXT NOT NULL,
        inputs           TEXT NOT NULL,
        idempotency_key  TEXT,
        request_hash     TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER,
        progress         TEXT,
        summary          TEXT,
        error            TEXT,
        report           TEXT,
        attempt          INTEGER NOT NULL DEFAULT 0,
        last_event_seq   INTEGER NOT NULL DEFAULT 0,
        inputs_purged_at INTEGER,
        UNIQUE (tenant, idempotency_key)
      );
      CREATE INDEX audits_tenant ON audits (tenant, id);
      CREATE INDEX audits_state ON audits (state, id);
      CREATE INDEX audits_retention ON audits (finished_at)
        WHERE finished_at IS NOT NULL AND inputs_purged_at IS NULL;

      CREATE TABLE audit_blobs (
        audit_id  TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        role      TEXT NOT NULL CHECK (role IN ('target', 'reference', 'candidates', 'controls')),
        digest    TEXT NOT NULL,
        PRIMARY KEY (audit_id, role)
      ) WITHOUT ROWID;
      CREATE INDEX audit_blobs_digest ON audit_blobs (digest);

      CREATE TABLE blobs (
        tenant      TEXT NOT NULL,
        digest      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        kind        TEXT,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant, digest)
      ) WITHOUT ROWID;
      CREATE INDEX blobs_digest ON blobs (digest);

      CREATE TABLE audit_results (
        audit_id          TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        idx               INTEGER NOT NULL,
        point_id          TEXT NOT NULL,
        role              TEXT NOT NULL CHECK (role IN ('candidate', 'control')),
        align_target      REAL NOT NULL,
        align_reference   REAL NOT NULL,
        score             REAL NOT NULL,
        std_err           REAL NOT NULL,
        pairs             INTEGER NOT NULL,
        score_normalized  REAL,
        p_value           REAL,
        flagged           INTEGER,
        PRIMARY KEY (audit_id, idx)
      ) WITHOUT ROWID;
      CREATE INDEX audit_results_score ON audit_results (audit_id, score_normalized DESC, idx);

      CREATE TABLE audit_events (
        audit_id    TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        type        TEXT NOT NULL,
        data        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (audit_id, seq)
      ) WITHOUT ROWID;

      CREATE TABLE health_probe (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        nonce       TEXT NOT NULL,
        checked_at  INTEGER NOT NULL
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
        id          TEXT PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        tenant      TEXT NOT NULL,
        audit_id    TEXT NOT NULL,
        payload     TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts    INTEGER NOT NULL,
        next_at     INTEGER NOT NULL,
        last_error  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state = 'pending';
      CREATE INDEX outbox_audit ON outbox (audit_id);

      CREATE TABLE watches (
        id          TEXT PRIMARY KEY,
        tenant      TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('mlflow', 'huggingface', 'oci')),
        spec        TEXT NOT NULL,
        secret      TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );
      CREATE INDEX watches_tenant ON watches (tenant, id);

      CREATE TABLE watch_triggers (
        watch_id    TEXT NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
        key         TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
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
        audit_id   TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        layer      INTEGER NOT NULL,
        name       TEXT NOT NULL,
        target     TEXT NOT NULL,
        reference  TEXT NOT NULL,
        final      INTEGER NOT NULL,
        shape      TEXT NOT NULL,
        dim        INTEGER NOT NULL,
        PRIMARY KEY (audit_id, layer)
      ) WITHOUT ROWID;

      CREATE TABLE audit_result_layers (
        audit_id         TEXT NOT NULL,
        idx              INTEGER NOT NULL,
        layer            INTEGER NOT NULL,
        align_target     REAL NOT NULL,
        align_reference  REAL NOT NULL,
        score            REAL NOT NULL,
        std_err          REAL NOT NULL,
        PRIMARY KEY (audit_id, idx, layer),
        FOREIGN KEY (audit_id, idx) REFERENCES audit_results (audit_id, idx) ON DELETE CASCADE
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: "audit kind and unit results",
    // UnitMem audits (kind 'unitmem'): one encoder, no reference; one row per unit of the scored
    // layers, O(units) — bounded by the encoder, not the data. Existing audits are SSLMem ones.
    sql: `
      ALTER TABLE audits ADD COLUMN kind TEXT NOT NULL DEFAULT 'sslmem' CHECK (kind IN ('sslmem', 'unitmem'));

      CREATE TABLE audit_unit_results (
        audit_id   TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        layer      TEXT NOT NULL,
        unit       INTEGER NOT NULL,
        unit_mem   REAL NOT NULL,
        point_id   TEXT NOT NULL,
        mu_max     REAL NOT NULL,
        mu_others  REAL NOT NULL,
        PRIMARY KEY (audit_id, idx)
      ) WITHOUT ROWID;
      CREATE INDEX audit_unit_results_unit_mem ON audit_unit_results (audit_id, unit_mem DESC, idx);
    `,
  },
  {
    version: 6,
    name: "watch trigger leases",
    // A version claimed by a watch is pending (lease_until set) until its audit is created, in the
    // audit's transaction (NULL: settled for good). A claimant that died before creating it leaves
    // a lease that ends, so the version is not lost. Existing claims are settled ones.
    sql: `
      ALTER TABLE watch_triggers ADD COLUMN lease_until INTEGER;
    `,
  },
];

/** Applies the pending migrations in one IMMEDIATE transaction (two processes opening at once serialize). */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[], now: () => number): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const apply = db.transaction(() => {
    const current = Number(db.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations").pluck().get());
    for (const m of pendingMigrations(migrations, current)) {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, now());
    }
  });
  apply.immediate();
}
