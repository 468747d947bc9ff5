/**
 * PgStore against a real PostgreSQL: the shared store contract (each test in a fresh schema), then
 * what only a multi-process database has to get right — several replicas racing on one
 * Idempotency-Key, on one audit's event seq, on the same result rows and on migrations.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SslmemError } from "../../src/core/errors.ts";
import { PG_MIGRATIONS } from "../../src/store/pg-migrations.ts";
import { PgStore, type PgStoreOptions } from "../../src/store/pg-store.ts";
import { hashToken } from "../../src/store/tokens.ts";
import type { AuditRecord, ResultRow } from "../../src/store/types.ts";
import { digestOf, storeContract } from "./store-contract.ts";
import { PG_TEST_URL, PgTestAdmin, SKIP_PG, probePostgres, uniqueSchemaName, unreachableMessage } from "./pg-test-db.ts";

const unreachable = SKIP_PG ? null : await probePostgres();

if (SKIP_PG) {
  describe("PgStore", { skip: "SSLMEM_SKIP_PG=1: PostgreSQL tests skipped on purpose" }, () => {});
} else if (unreachable !== null) {
  it("PgStore: PostgreSQL is reachable", () => {
    assert.fail(unreachableMessage(unreachable));
  });
} else {
  pgSuites();
}

function pgSuites(): void {
  const admin = new PgTestAdmin();
  const schemas = new Set<string>();
  after(async () => {
    for (const s of schemas) await admin.dropSchema(s);
    await admin.close();
  });

  /** A store in `schema` (a fresh one by default); the schema is dropped at the end of the file. */
  async function open(options: Partial<PgStoreOptions> & { schema?: string } = {}): Promise<PgStore> {
    const schema = options.schema ?? uniqueSchemaName();
    schemas.add(schema);
    return PgStore.open({ connectionString: PG_TEST_URL, poolSize: 4, ...options, schema });
  }

  // The contract's tests share one schema, emptied before each test: as fresh as a new schema (no
  // sequences or other state outside the rows) at a fraction of the DDL cost.
  const contractSchema = uniqueSchemaName();
  storeContract("postgresql", async ({ now }) => {
    let current = await open({ schema: contractSchema, now });
    await admin.query(
      ["audits", "tokens", "blobs", "health_probe", "outbox", "watches"].map((t) => `DELETE FROM "${contractSchema}".${t};`).join(" "),
    );
    const refused = new Set<string>();
    return {
      store: current,
      async reopen() {
        await current.close();
        current = await open({ schema: contractSchema, now });
        return current;
      },
      async dispose() {
        await current.close();
        // The schema is shared by the contract's tests: a refusing trigger must not outlive its test.
        for (const table of refused) await admin.query(`DROP TRIGGER IF EXISTS refuse_insert ON "${contractSchema}".${table}`);
      },
      async auditRows(table, auditId) {
        const rows = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${contractSchema}".${table} WHERE audit_id = $1`, [auditId]);
        return rows[0].n;
      },
      async tableRows(table) {
        const rows = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${contractSchema}".${table}`);
        return rows[0].n;
      },
      async refuseInserts(table) {
        refused.add(table);
        await admin.query(
          `CREATE OR REPLACE FUNCTION "${contractSchema}".refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
        );
        await admin.query(`CREATE TRIGGER refuse_insert BEFORE INSERT ON "${contractSchema}".${table} FOR EACH ROW EXECUTE FUNCTION "${contractSchema}".refuse_insert()`);
      },
    };
  });

  async function seedInputs(store: PgStore, tenant = "acme") {
    const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
    for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 1, tenant });
    return inputs;
  }

  async function runningAudit(store: PgStore): Promise<AuditRecord> {
    const audit = (await store.createAudit({ tenant: "acme", config: {}, inputs: await seedInputs(store) })).audit;
    assert.equal(await store.transition(audit.id, ["queued"], "running"), true);
    return audit;
  }

  const point = (index: number, score = index / 10): ResultRow => ({
    index,
    id: `p${index}`,
    role: "candidate",
    alignTarget: 0.5,
    alignReference: 0.25,
    score,
    stdErr: 0.01,
    pairs: 4,
  });

  /** `n` stores (separate pools, as separate replicas would have) on one schema. */
  async function replicas(n: number): Promise<{ stores: PgStore[]; schema: string; close(): Promise<void> }> {
    const schema = uniqueSchemaName();
    const stores: PgStore[] = [];
    for (let i = 0; i < n; i++) stores.push(await open({ schema }));
    return { stores, schema, close: async () => void (await Promise.all(stores.map((s) => s.close()))) };
  }

  describe("PgStore specifics", () => {
    it("creates one audit for 20 concurrent requests with one key across 3 replicas", async () => {
      const { stores, schema, close } = await replicas(3);
      try {
        const inputs = await seedInputs(stores[0]);
        const req = { tenant: "acme", config: { views: 4 }, inputs, idempotencyKey: "race", requestHash: "h" };
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 3].createAudit(req)));
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.audit.id)).size, 1);
        const rows = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".audits`);
        assert.equal(rows[0].n, 1);
        const refs = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".audit_blobs`);
        assert.equal(refs[0].n, 3, "the inputs are referenced once");
      } finally {
        await close();
      }
    });

    it("gives concurrent requests with one key but different bodies one audit and conflicts", async () => {
      const { stores, close } = await replicas(2);
      try {
        const inputs = await seedInputs(stores[0]);
        const outcomes = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            stores[i % 2].createAudit({ tenant: "acme", config: {}, inputs, idempotencyKey: "k", requestHash: `h${i % 2}` }),
          ),
        );
        const ok = outcomes.filter((o) => o.status === "fulfilled").map((o) => o.value);
        const failed = outcomes.filter((o) => o.status === "rejected").map((o) => o.reason as unknown);
        assert.equal(ok.filter((r) => r.created).length, 1);
        const winner = ok.find((r) => r.created)!.audit;
        assert.ok(ok.every((r) => r.audit.id === winner.id && r.audit.requestHash === winner.requestHash));
        assert.equal(ok.length, 6, "every request with the winner's body gets the audit");
        assert.equal(failed.length, 6);
        for (const e of failed) {
          assert.ok(e instanceof SslmemError && e.code === "idempotency_conflict", `expected a conflict, got ${String(e)}`);
          assert.equal(e.details?.auditId, winner.id);
        }
      } finally {
        await close();
      }
    });

    it("numbers events gap-free when two replicas append to one audit at once", async () => {
      const { stores, close } = await replicas(2);
      try {
        const audit = await runningAudit(stores[0]);
        const seqs = await Promise.all(
          Array.from({ length: 40 }, (_, i) => stores[i % 2].appendEvent(audit.id, { type: "progress", data: { i } })),
        );
        assert.deepEqual(
          [...seqs].sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        const events = await stores[1].readEvents(audit.id, 0);
        assert.deepEqual(
          events.map((e) => e.seq),
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        // Each append got the seq it returned, and every payload was stored once.
        for (let i = 0; i < 40; i++) assert.deepEqual(events[seqs[i] - 1].data, { i });
      } finally {
        await close();
      }
    });

    it("stores each result once when two workers write the same shard in opposite orders", async () => {
      const { stores, close } = await replicas(2);
      try {
        const audit = await runningAudit(stores[0]);
        const rows = Array.from({ length: 300 }, (_, i) => point(i));
        const reversed = [...rows].reverse().map((r) => ({ ...r, score: -r.score }));
        await Promise.all([
          stores[0].appendResults(audit.id, rows.slice(0, 200)),
          stores[1].appendResults(audit.id, reversed),
          stores[0].appendResults(audit.id, rows.slice(100)),
        ]);
        assert.equal(await stores[1].countResults(audit.id), 300);
        assert.deepEqual(await stores[1].committedIndices(audit.id), rows.map((r) => r.index));
      } finally {
        await close();
      }
    });

    it("applies migrations once when three replicas start at once", async () => {
      const schema = uniqueSchemaName();
      const stores = await Promise.all([open({ schema }), open({ schema }), open({ schema })]);
      try {
        const applied = await admin.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
        assert.deepEqual(
          applied,
          PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
        );
        for (const s of stores) assert.equal(await s.schemaVersion(), Math.max(...PG_MIGRATIONS.map((m) => m.version)));
        await Promise.all(stores.map((s) => s.healthCheck()));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }

      // A new migration rolled out to three replicas at once runs once (twice would fail: the
      // table would already exist and the version row would collide).
      const next = [...PG_MIGRATIONS, { version: 1000, name: "extra", sql: "CREATE TABLE extra (a INTEGER)" }];
      const upgraded = await Promise.all([0, 1, 2].map(() => open({ schema, migrations: next })));
      try {
        const versions = await admin.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
        assert.deepEqual(
          versions.map((v) => v.version),
          [...PG_MIGRATIONS.map((m) => m.version), 1000],
        );
      } finally {
        await Promise.all(upgraded.map((s) => s.close()));
      }
    });

    it("rolls back a failing migration entirely", async () => {
      const schema = uniqueSchemaName();
      const broken = [...PG_MIGRATIONS, { version: 1000, name: "broken", sql: "CREATE TABLE half_done (a INTEGER); SELECT * FROM no_such_table;" }];
      await assert.rejects(open({ schema, migrations: broken }), (e: unknown) => {
        assert.ok(e instanceof SslmemError, "an SslmemError");
        assert.equal(e.code, "store_failure");
        return true;
      });
      const tables = await admin.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [schema]);
      assert.deepEqual(tables, [], "neither the failing migration nor the earlier ones of the run left a table");
      const store = await open({ schema });
      assert.equal(await store.schemaVersion(), Math.max(...PG_MIGRATIONS.map((m) => m.version)));
      await store.close();
    });

    it("refuses a database from a newer schema", async () => {
      const schema = uniqueSchemaName();
      await (await open({ schema })).close();
      await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`);
      await assert.rejects(open({ schema }), (e: unknown) => {
        assert.ok(e instanceof SslmemError, "an SslmemError");
        assert.equal(e.code, "store_failure");
        assert.match(e.message, /schema version 999/);
        return true;
      });
    });

    it("wraps an unreachable server as store_failure without leaking the URL", async () => {
      await assert.rejects(
        PgStore.open({ connectionString: "postgres://sslmem:s3cret-pw@127.0.0.1:1/nowhere", connectionTimeoutMs: 2000 }),
        (e: unknown) => {
          assert.ok(e instanceof SslmemError, "an SslmemError");
          assert.equal(e.code, "store_failure");
          assert.ok(!e.message.includes("s3cret-pw") && !e.message.includes("127.0.0.1"), e.message);
          assert.match(e.message, /ECONNREFUSED.*SSLMEM_DATABASE_URL/, "says what failed and what to check");
          return true;
        },
      );
      await assert.rejects(open({ schema: "Not-A-Schema" }), (e: unknown) => e instanceof SslmemError && e.code === "invalid_config");
    });

    it("round-trips awkward point ids, extreme doubles and JSON key order", async () => {
      const store = await open();
      try {
        const audit = await runningAudit(store);
        const ids = ['a,"b"\\{c}', "NULL", "", "日本/画像 1.png", "tab\there", "{}"].map((s, i) => `${i}:${s}`);
        const doubles = [5e-324, 1.7976931348623157e308, 0.1 + 0.2, -1 / 3, 1e-300, 123456789.123456789];
        const rows = ids.map((id, i) => ({ ...point(i), id, score: doubles[i], alignTarget: -doubles[i] }));
        await store.appendResults(audit.id, rows);
        const batchFields = (index: number) => ({ scoreNormalized: doubles[5 - index], pValue: doubles[index], flagged: index % 2 === 0 });
        await store.finalizeResults(audit.id, rows.map((r) => ({ index: r.index, ...batchFields(r.index) })));
        const page = await store.readResults(audit.id, { limit: 100 });
        assert.deepEqual(
          page.items,
          rows.map((r) => ({ ...r, ...batchFields(r.index) })),
        );
        const config = { z: 1, a: { y: [1, 2], b: null }, m: "x" };
        const inputs = await seedInputs(store);
        const created = (await store.createAudit({ tenant: "acme", config, inputs })).audit;
        const read = (await store.getAuditInternal(created.id))!;
        assert.equal(JSON.stringify(read.config), JSON.stringify(config), "key order survives");
      } finally {
        await store.close();
      }
    });

    it("stores only the hash of a token", async () => {
      const schema = uniqueSchemaName();
      const store = await open({ schema });
      try {
        const { id, token } = await store.createToken("acme");
        const rows = await admin.query<{ hash: Buffer; row: string }>(
          `SELECT hash, t::text AS row FROM "${schema}".tokens t WHERE id = $1`,
          [id],
        );
        assert.ok(rows[0].hash.equals(hashToken(token)), "the hash is stored");
        assert.ok(!rows[0].row.includes(token) && !rows[0].row.includes(token.slice(5)), "the plaintext is not");
      } finally {
        await store.close();
      }
    });
  });
}
