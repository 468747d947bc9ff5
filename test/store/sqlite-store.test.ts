import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { SslmemError } from "../../src/core/errors.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { SQLITE_MIGRATIONS } from "../../src/store/sqlite-migrations.ts";
import { hashToken } from "../../src/store/tokens.ts";
import { digestOf, storeContract } from "./store-contract.ts";

const root = mkdtempSync(join(tmpdir(), "sslmem-sqlite-"));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => join(root, `db-${++counter}`, "sslmem.sqlite");

storeContract("sqlite", async ({ now }) => {
  const path = freshPath();
  let current = await SqliteStore.open({ path, now });
  return {
    store: current,
    async reopen() {
      await current.close();
      current = await SqliteStore.open({ path, now });
      return current;
    },
    async dispose() {
      await current.close();
    },
    async auditRows(table, auditId) {
      const db = new Database(path, { readonly: true });
      try {
        return Number(db.prepare(`SELECT count(*) FROM ${table} WHERE audit_id = ?`).pluck().get(auditId));
      } finally {
        db.close();
      }
    },
    async tableRows(table) {
      const db = new Database(path, { readonly: true });
      try {
        return Number(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
      } finally {
        db.close();
      }
    },
    async refuseInserts(table) {
      // Another connection changes the schema; the store's statements are re-prepared by SQLite.
      const db = new Database(path);
      try {
        db.exec(`CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
      } finally {
        db.close();
      }
    },
  };
});

/** Every byte SQLite may hold for this database (main file and write-ahead log). */
function fileBytes(path: string): Buffer {
  const parts = [readFileSync(path)];
  if (existsSync(`${path}-wal`)) parts.push(readFileSync(`${path}-wal`));
  return Buffer.concat(parts);
}

async function seedAudit(store: SqliteStore, tenant = "acme") {
  const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
  for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 1, tenant });
  return (await store.createAudit({ tenant, config: {}, inputs })).audit;
}

describe("SqliteStore specifics", () => {
  it("runs with WAL, FULL sync, foreign keys, secure delete and a busy timeout", async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    try {
      assert.deepEqual(await store.settings(), {
        journalMode: "wal",
        autoVacuum: "INCREMENTAL",
        synchronous: "FULL",
        foreignKeys: true,
        secureDelete: true,
        busyTimeoutMs: 5000,
        schemaVersion: Math.max(...SQLITE_MIGRATIONS.map((m) => m.version)),
      });
    } finally {
      await store.close();
    }
    const relaxed = await SqliteStore.open({ path: freshPath(), synchronous: "NORMAL", busyTimeoutMs: 250 });
    try {
      const s = await relaxed.settings();
      assert.equal(s.synchronous, "NORMAL");
      assert.equal(s.busyTimeoutMs, 250);
    } finally {
      await relaxed.close();
    }
  });

  it("applies migrations once and records them", async () => {
    const path = freshPath();
    await (await SqliteStore.open({ path })).close();
    await (await SqliteStore.open({ path })).close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
      assert.deepEqual(
        rows,
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
    } finally {
      db.close();
    }
  });

  it("rolls back a failing migration entirely", async () => {
    const path = freshPath();
    const broken = [
      ...SQLITE_MIGRATIONS,
      { version: 1000, name: "broken", sql: "CREATE TABLE half_done (a INTEGER); SELECT * FROM no_such_table;" },
    ];
    await assert.rejects(SqliteStore.open({ path, migrations: broken }), (e: unknown) => {
      assert.ok(e instanceof SslmemError, "an SslmemError");
      assert.equal(e.code, "store_failure");
      return true;
    });
    const db = new Database(path, { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      assert.ok(!tables.includes("half_done"), "the failing migration left no table");
      assert.ok(!tables.includes("audits"), "earlier migrations of the same run are rolled back too");
    } finally {
      db.close();
    }
    const store = await SqliteStore.open({ path });
    assert.equal((await store.settings()).schemaVersion, Math.max(...SQLITE_MIGRATIONS.map((m) => m.version)));
    await store.close();
  });

  it("refuses a database from a newer schema", async () => {
    const path = freshPath();
    await (await SqliteStore.open({ path })).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    await assert.rejects(SqliteStore.open({ path }), (e: unknown) => {
      assert.ok(e instanceof SslmemError, "an SslmemError");
      assert.equal(e.code, "store_failure");
      assert.match(e.message, /schema version 999/);
      return true;
    });
  });

  it("wraps driver failures as store_failure", async () => {
    // A directory where the database file should be.
    await assert.rejects(SqliteStore.open({ path: root }), (e: unknown) => {
      assert.ok(e instanceof SslmemError, "an SslmemError");
      assert.equal(e.code, "store_failure");
      assert.ok(!e.message.includes(root), "the message carries no path");
      return true;
    });
  });

  it("passes integrity_check after a workload and a restart", async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const a = await seedAudit(store);
    await store.transition(a.id, ["queued"], "running");
    for (let b = 0; b < 5; b++) {
      await store.appendResults(
        a.id,
        Array.from({ length: 40 }, (_, i) => ({
          index: b * 40 + i,
          id: `p${b * 40 + i}`,
          role: "candidate" as const,
          alignTarget: i,
          alignReference: i + 1,
          score: 1,
          stdErr: 0.5,
          pairs: 4,
        })),
      );
      await store.appendEvent(a.id, { type: "progress", data: { done: (b + 1) * 40 } });
    }
    await store.deleteAudit("acme", a.id);
    assert.deepEqual(await store.integrityCheck(), ["ok"]);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      assert.deepEqual(db.pragma("foreign_key_check"), []);
    } finally {
      db.close();
    }
  });

  it("stores only the hash of a token", async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const { token } = await store.createToken("acme");
    await store.close();
    const bytes = fileBytes(path);
    assert.ok(bytes.includes(hashToken(token)), "the hash is found, so the search works");
    assert.ok(!bytes.includes(Buffer.from(token)), "the plaintext token is not in the file");
  });

  it("leaves no trace of a deleted audit's point ids in the file", async () => {
    const path = freshPath();
    const marker = "patient-7731-scan.png";
    let store = await SqliteStore.open({ path });
    const a = await seedAudit(store);
    await store.appendResults(a.id, [
      { index: 0, id: marker, role: "candidate", alignTarget: 1, alignReference: 2, score: 1, stdErr: 0, pairs: 2 },
    ]);
    await store.close();
    assert.ok(fileBytes(path).includes(Buffer.from(marker)), "the marker is found while stored");
    store = await SqliteStore.open({ path });
    assert.equal(await store.deleteAudit("acme", a.id), true);
    await store.close();
    assert.ok(!fileBytes(path).includes(Buffer.from(marker)), "the deleted point id is gone from the file");
  });

  it("gives a deleted audit's pages back: the file shrinks (incremental vacuum), also for a file made without it", async () => {
    const path = freshPath();
    // A file from before auto_vacuum: the next open rewrites it once.
    mkdirSync(dirname(path), { recursive: true });
    const legacy = new Database(path);
    legacy.exec("CREATE TABLE legacy (a INTEGER)");
    legacy.close();
    let store = await SqliteStore.open({ path });
    assert.equal((await store.settings()).autoVacuum, "INCREMENTAL");
    const a = await seedAudit(store);
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      index: i, id: `images/${"x".repeat(80)}-${i}.png`, role: "candidate" as const, alignTarget: 1, alignReference: 2, score: 1, stdErr: 0, pairs: 2,
    }));
    for (let i = 0; i < rows.length; i += 5000) await store.appendResults(a.id, rows.slice(i, i + 5000));
    await store.close();
    store = await SqliteStore.open({ path });
    const full = statSync(path).size;
    assert.ok(full > 2 * 1024 * 1024, `the results take room (${full} bytes)`);
    assert.equal(await store.deleteAudit("acme", a.id), true);
    const after = statSync(path).size;
    assert.ok(after < full / 4, `the file shrank from ${full} to ${after} bytes`);
    assert.deepEqual(await store.integrityCheck(), ["ok"]);
    await store.close();
  });

  it("shares one file between two connections (CLI next to a server)", async () => {
    const path = freshPath();
    const one = await SqliteStore.open({ path });
    const two = await SqliteStore.open({ path });
    try {
      const { token } = await two.createToken("acme");
      assert.equal((await one.authenticate(token))?.tenant, "acme");
      const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
      for (const d of Object.values(inputs)) await one.recordBlob({ digest: d, size: 1, tenant: "acme" });
      const req = { tenant: "acme", config: {}, inputs, idempotencyKey: "k", requestHash: "h" };
      const first = await one.createAudit(req);
      const second = await two.createAudit(req);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.audit.id, first.audit.id);
      assert.equal(await two.appendEvent(first.audit.id, { type: "a", data: {} }), 1);
      assert.equal(await one.appendEvent(first.audit.id, { type: "b", data: {} }), 2);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
