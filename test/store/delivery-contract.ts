/**
 * The outbox and the watches, as every Store must keep them (run by store-contract.ts on SQLite
 * and PostgreSQL). The clock is injected and moved by hand.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CreateAuditInput, Store } from "../../src/store/types.ts";
import { digestOf, type MakeStore, type StoreUnderTest } from "./store-contract.ts";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const SECRET = "0123456789abcdef0123";

export function deliveryContract(name: string, makeStore: MakeStore): void {
  async function withStore(body: (ctx: { store: Store; clock: { now: number }; h: StoreUnderTest }) => Promise<void>) {
    const clock = { now: T0 };
    const h = await makeStore({ now: () => clock.now });
    try {
      await body({ store: h.store, clock, h });
    } finally {
      await h.dispose();
    }
  }
  const payload = { url: "https://x.test/cb", n: 1 };

  /** Records the tenant's input blobs and creates an audit with one delivery per kind (in order). */
  async function auditWith(store: Store, kinds: readonly string[], more: Partial<CreateAuditInput> = {}): Promise<string> {
    const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
    for (const digest of Object.values(inputs)) await store.recordBlob({ digest, size: 1, tenant: "acme" });
    const deliveries = kinds.map((kind) => ({ kind, payload }));
    return (await store.createAudit({ tenant: "acme", config: {}, inputs, deliveries, ...more })).audit.id;
  }

  /** Nothing of an audit's creation was written: no row in any table it writes to. */
  async function assertNothingWritten(h: StoreUnderTest): Promise<void> {
    for (const table of ["audits", "audit_blobs", "audit_events", "outbox"] as const) assert.equal(await h.tableRows(table), 0, `rows in ${table}`);
    assert.deepEqual((await h.store.listAudits("acme", { limit: 10 })).items, []);
  }

  describe(`${name}: outbox`, () => {
    it("writes an audit's deliveries and first events with it, keyed <kind>:<audit>; a replay writes none", () =>
      withStore(async ({ store, clock, h }) => {
        const sources = { target: { reference: "hf://acme/enc", digest: digestOf("t") } };
        const events = [
          { type: "state", data: { state: "queued" } },
          { type: "sources", data: sources },
        ];
        const id = await auditWith(store, ["callback", "mlflow-verdict"], { idempotencyKey: "k1", requestHash: "h1", events });
        const [callback, verdict] = await store.deliveriesOfAudit(id);
        assert.match(callback.id, /^dlv_/);
        assert.deepEqual(
          [callback, verdict].map((d) => [d.key, d.kind, d.tenant, d.auditId, d.state, d.attempts, d.nextAt, d.lastError]),
          [
            [`callback:${id}`, "callback", "acme", id, "pending", 0, T0, null],
            [`mlflow-verdict:${id}`, "mlflow-verdict", "acme", id, "pending", 0, T0, null],
          ],
        );
        assert.deepEqual(callback.payload, payload);
        assert.deepEqual((await store.readEvents(id, 0)).map((e) => [e.seq, e.type, e.data]), [
          [1, "state", { state: "queued" }],
          [2, "sources", sources],
        ]);
        await store.appendEvent(id, { type: "state", data: { state: "running" } });
        assert.deepEqual((await store.readEvents(id, 2)).map((e) => e.seq), [3], "later events continue the first ones' seqs");

        clock.now += 1_000;
        const replay = await store.createAudit({
          tenant: "acme",
          config: {},
          inputs: { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") },
          idempotencyKey: "k1",
          requestHash: "h1",
          events: [{ type: "state", data: { state: "queued" } }],
          deliveries: [{ kind: "callback", payload: { url: "https://other.test/cb" } }, { kind: "oci-verdict", payload: {} }],
        });
        assert.equal(replay.created, false);
        assert.equal(replay.audit.id, id);
        assert.deepEqual(await store.deliveriesOfAudit(id), [callback, verdict], "a replay writes no delivery");
        assert.equal((await store.readEvents(id, 0)).length, 3, "a replay writes no event");
        assert.deepEqual([await h.tableRows("audits"), await h.tableRows("outbox")], [1, 2]);
      }));

    it("claims due deliveries under a lease: no second claim before the lease ends", () =>
      withStore(async ({ store, clock }) => {
        const id = await auditWith(store, ["a", "b"]);
        const claimed = await store.claimDeliveries(30_000, 10);
        assert.deepEqual(claimed.map((d) => d.key), [`a:${id}`, `b:${id}`]);
        assert.equal(claimed[0].nextAt, T0 + 30_000);
        assert.deepEqual(await store.claimDeliveries(30_000, 10), []);
        clock.now += 30_000; // the claimant died: its lease ends and another process retries
        assert.deepEqual((await store.claimDeliveries(30_000, 1)).map((d) => d.key), [`a:${id}`]);
      }));

    it("settles only under the lease it holds; retries become due at nextAt; delivered and dead rows are never claimed", () =>
      withStore(async ({ store, clock }) => {
        const id = await auditWith(store, ["a", "b"]);
        const [a, b] = await store.claimDeliveries(10_000, 10);
        assert.equal(await store.settleDelivery(a.id, a.nextAt + 1, { state: "delivered", attempts: 1 }), false, "a stale lease settles nothing");
        assert.equal(await store.settleDelivery(a.id, a.nextAt, { state: "pending", attempts: 1, nextAt: T0 + 2_000, error: "status 503" }), true);
        assert.equal(await store.settleDelivery(b.id, b.nextAt, { state: "dead", attempts: 5, error: "status 410" }), true);
        assert.equal(await store.settleDelivery(b.id, b.nextAt, { state: "delivered", attempts: 6 }), false, "a dead delivery stays dead");
        clock.now = T0 + 1_999;
        assert.deepEqual(await store.claimDeliveries(10_000, 10), []);
        clock.now = T0 + 2_000;
        const [again] = await store.claimDeliveries(10_000, 10);
        assert.equal(again.key, `a:${id}`);
        assert.equal(again.attempts, 1);
        assert.equal(again.lastError, "status 503");
        assert.equal(await store.settleDelivery(again.id, again.nextAt, { state: "delivered", attempts: 2 }), true);
        clock.now += 1_000_000;
        assert.deepEqual(await store.claimDeliveries(10_000, 10), []);
        const rows = await store.deliveriesOfAudit(id);
        assert.deepEqual(rows.map((d) => [d.kind, d.state, d.attempts, d.lastError]), [
          ["a", "delivered", 2, null],
          ["b", "dead", 5, "status 410"],
        ]);
      }));

    it("keeps pending deliveries across a restart", () =>
      withStore(async ({ h }) => {
        const id = await auditWith(h.store, ["callback"]);
        const reopened = await h.reopen();
        const [a] = await reopened.claimDeliveries(1_000, 10);
        assert.equal(a.key, `callback:${id}`);
        assert.deepEqual(a.payload, payload);
      }));

    it("refuses malformed deliveries (and writes nothing of their audit) and malformed leases", () =>
      withStore(async ({ store, h }) => {
        await assert.rejects(auditWith(store, [""]), { code: "validation_failed" });
        await assert.rejects(auditWith(store, ["a\nb"]), { code: "validation_failed" });
        await assert.rejects(auditWith(store, ["callback", "callback"]), { code: "validation_failed" }, "one delivery per kind");
        const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
        // @ts-expect-error a payload that is not an object, as a caller without types could pass
        await assert.rejects(store.createAudit({ tenant: "acme", config: {}, inputs, deliveries: [{ kind: "callback", payload: "https://x.test" }] }), {
          code: "validation_failed",
        });
        await assert.rejects(store.claimDeliveries(0, 10), { code: "validation_failed" });
        await assertNothingWritten(h);
      }));

    for (const table of ["outbox", "audit_events"] as const) {
      it(`writes nothing of an audit when the database refuses its ${table} row inside the transaction`, () =>
        withStore(async ({ store, h }) => {
          await h.refuseInserts(table);
          const events = [{ type: "state", data: { state: "queued" } }];
          await assert.rejects(auditWith(store, ["callback"], { idempotencyKey: "k1", requestHash: "h1", events }), { code: "store_failure" });
          await assertNothingWritten(h);
        }));
    }
  });

  describe(`${name}: watches`, () => {
    const spec = { subject: { model: "encoder" }, reference: "sha256:" + "a".repeat(64) };

    it("creates, lists (per tenant), reads and deletes watches", () =>
      withStore(async ({ store, clock }) => {
        const a = await store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: SECRET });
        clock.now += 1;
        const b = await store.createWatch({ tenant: "acme", kind: "oci", spec, secret: SECRET });
        await store.createWatch({ tenant: "globex", kind: "mlflow", spec, secret: SECRET });
        assert.match(a.id, /^wch_/);
        assert.deepEqual(a.spec, spec);
        assert.deepEqual(await store.getWatch("acme", a.id), a);
        assert.equal(await store.getWatch("globex", a.id), null, "another tenant's watch is invisible");
        assert.deepEqual(await store.getWatchInternal(a.id), a);
        assert.deepEqual((await store.listWatches("acme")).map((w) => w.id), [a.id, b.id]);
        assert.deepEqual((await store.listWatchesOfKind("oci")).map((w) => w.id), [b.id]);
        assert.equal(await store.deleteWatch("globex", a.id), false);
        assert.equal(await store.deleteWatch("acme", a.id), true);
        assert.equal(await store.getWatchInternal(a.id), null);
      }));

    it("claims a trigger once (replays and versions already audited start nothing); a release allows a retry", () =>
      withStore(async ({ store }) => {
        const w = await store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: SECRET });
        assert.equal(await store.claimWatchTrigger(w.id, "delivery:d1"), true);
        assert.equal(await store.claimWatchTrigger(w.id, "delivery:d1"), false);
        const racing = await Promise.all([store.claimWatchTrigger(w.id, "version:3"), store.claimWatchTrigger(w.id, "version:3")]);
        assert.deepEqual(racing.sort(), [false, true]);
        await store.releaseWatchTrigger(w.id, "version:3");
        assert.equal(await store.claimWatchTrigger(w.id, "version:3"), true);
      }));

    it("takes over a leased claim once its lease ends, unless its audit settled it; a claim without a lease is settled at once", () =>
      withStore(async ({ store, clock }) => {
        const w = await store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: SECRET });
        assert.equal(await store.claimWatchTrigger(w.id, "version:1", 60_000), true);
        assert.equal(await store.claimWatchTrigger(w.id, "version:2", 60_000), true);
        assert.equal(await store.claimWatchTrigger(w.id, "delivery:d1"), true);
        clock.now += 59_999;
        assert.equal(await store.claimWatchTrigger(w.id, "version:1", 60_000), false, "the lease still runs");
        await auditWith(store, [], { settlesWatchTrigger: { watchId: w.id, key: "version:2" } });
        clock.now += 1;
        // version:1's claimant died before creating its audit: the version is claimed again, once.
        const racing = await Promise.all([store.claimWatchTrigger(w.id, "version:1", 60_000), store.claimWatchTrigger(w.id, "version:1", 60_000)]);
        assert.deepEqual(racing.sort(), [false, true]);
        assert.equal(await store.claimWatchTrigger(w.id, "version:2", 60_000), false, "settled by its audit");
        assert.equal(await store.claimWatchTrigger(w.id, "delivery:d1", 60_000), false, "settled when claimed");
        clock.now += 10 * 60_000;
        assert.equal(await store.claimWatchTrigger(w.id, "version:2", 60_000), false, "settled for good");
        await assert.rejects(store.claimWatchTrigger(w.id, "version:3", 0), { code: "validation_failed" });
      }));

    it("leaves a claim pending when its audit's transaction fails", () =>
      withStore(async ({ store, clock, h }) => {
        const w = await store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: SECRET });
        assert.equal(await store.claimWatchTrigger(w.id, "version:1", 60_000), true);
        await h.refuseInserts("outbox");
        const settles = { watchId: w.id, key: "version:1" };
        await assert.rejects(auditWith(store, ["mlflow-verdict"], { settlesWatchTrigger: settles }), { code: "store_failure" });
        clock.now += 60_000;
        assert.equal(await store.claimWatchTrigger(w.id, "version:1", 60_000), true, "not settled: the lease ended and the version is claimed again");
      }));

    it("refuses a short secret and an unknown kind", () =>
      withStore(async ({ store }) => {
        await assert.rejects(store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: "short" }), { code: "validation_failed" });
        // @ts-expect-error an unknown kind, as a caller without types could pass
        await assert.rejects(store.createWatch({ tenant: "acme", kind: "s3", spec, secret: SECRET }), { code: "validation_failed" });
      }));
  });
}
