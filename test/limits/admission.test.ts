/**
 * Queue admission in the store (createAudit with maxQueued): atomic with the insert, so
 * concurrent submissions — in one process or from several API replicas on one PostgreSQL — never
 * overshoot SSLMEM_MAX_QUEUE, and a replayed Idempotency-Key is answered even when the queue is full.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSslmemError } from "../../src/core/errors.ts";
import { PgStore } from "../../src/store/pg-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";
import { digestOf } from "../http/harness.ts";
import { PG_TEST_URL, PgTestAdmin, SKIP_PG, probePostgres, uniqueSchemaName } from "../store/pg-test-db.ts";

async function admissionSuite(name: string, open: () => Promise<{ stores: Store[]; close(): Promise<void> }>): Promise<void> {
  describe(`queue admission (${name})`, () => {
    it("admits exactly maxQueued of concurrent submissions; replays still answered; room returns when one starts", async () => {
      const { stores, close } = await open();
      try {
        const [first] = stores;
        const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
        for (const d of Object.values(inputs)) await first.recordBlob({ digest: d, size: 1, tenant: "acme" });
        const submit = (i: number, store = stores[i % stores.length], hash = `h${i}`) =>
          store.createAudit({ tenant: "acme", config: { seed: i }, inputs, idempotencyKey: `k${i}`, requestHash: hash, maxQueued: 3 });
        const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => submit(i)));
        const created = outcomes.filter((o) => o.status === "fulfilled");
        const refused = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason as unknown);
        assert.equal(created.length, 3);
        assert.equal(refused.length, 9);
        for (const e of refused) assert.ok(isSslmemError(e) && e.code === "queue_full", String(e));
        assert.equal((await first.countAuditsByState()).queued, 3);

        const index = outcomes.findIndex((o) => o.status === "fulfilled");
        const original = (outcomes[index] as PromiseFulfilledResult<Awaited<ReturnType<Store["createAudit"]>>>).value.audit;
        const replay = await submit(index);
        assert.deepEqual([replay.created, replay.audit.id], [false, original.id], "a replay is answered while the queue is full");
        await assert.rejects(submit(index, first, "another body"), (e: unknown) => isSslmemError(e) && e.code === "idempotency_conflict");

        assert.equal(await first.transition(original.id, ["queued"], "running"), true);
        const more = await Promise.allSettled([submit(20), submit(21)]);
        assert.deepEqual(more.map((o) => o.status).sort(), ["fulfilled", "rejected"], "one slot freed, one admitted");
        const unlimited = await first.createAudit({ tenant: "acme", config: {}, inputs });
        assert.equal(unlimited.created, true, "without maxQueued there is no limit");
      } finally {
        await close();
      }
    });
  });
}

await admissionSuite("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-admission-"));
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL" });
  return {
    stores: [store],
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const pgUnavailable = SKIP_PG ? "SSLMEM_SKIP_PG=1" : await probePostgres();
if (pgUnavailable === null) {
  const admin = new PgTestAdmin();
  const schema = uniqueSchemaName();
  after(async () => {
    await admin.dropSchema(schema);
    await admin.close();
  });
  await admissionSuite("postgresql, two replicas", async () => {
    const a = await PgStore.open({ connectionString: PG_TEST_URL, poolSize: 4, schema });
    const b = await PgStore.open({ connectionString: PG_TEST_URL, poolSize: 4, schema });
    return {
      stores: [a, b],
      async close() {
        await a.close();
        await b.close();
      },
    };
  });
} else {
  describe("queue admission (postgresql)", { skip: `PostgreSQL not available: ${pgUnavailable}` }, () => {});
}
