/**
 * The outbox and the watches, as every Store must keep them (run by store-contract.ts on SQLite
 * and PostgreSQL). The clock is injected and moved by hand.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Store } from "../../src/store/types.ts";
import type { MakeStore, StoreUnderTest } from "./store-contract.ts";

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
  const delivery = (key: string, auditId = "aud_1") => ({ key, kind: "callback", tenant: "acme", auditId, payload: { url: "https://x.test/cb", n: 1 } });

  describe(`${name}: outbox`, () => {
    it("enqueues once per key: a second enqueue returns the first row unchanged", () =>
      withStore(async ({ store }) => {
        const first = await store.enqueueDelivery(delivery("callback:aud_1"));
        assert.equal(first.created, true);
        assert.match(first.delivery.id, /^dlv_/);
        assert.deepEqual(first.delivery.payload, { url: "https://x.test/cb", n: 1 });
        assert.equal(first.delivery.state, "pending");
        assert.equal(first.delivery.attempts, 0);
        const again = await store.enqueueDelivery({ ...delivery("callback:aud_1"), payload: { other: true } });
        assert.equal(again.created, false);
        assert.deepEqual(again.delivery, first.delivery);
        assert.equal((await store.deliveriesOfAudit("aud_1")).length, 1);
      }));

    it("claims due deliveries under a lease: no second claim before the lease ends", () =>
      withStore(async ({ store, clock }) => {
        await store.enqueueDelivery(delivery("a"));
        await store.enqueueDelivery(delivery("b"));
        const claimed = await store.claimDeliveries(30_000, 10);
        assert.deepEqual(claimed.map((d) => d.key), ["a", "b"]);
        assert.equal(claimed[0].nextAt, T0 + 30_000);
        assert.deepEqual(await store.claimDeliveries(30_000, 10), []);
        clock.now += 30_000; // the claimant died: its lease ends and another process retries
        assert.deepEqual((await store.claimDeliveries(30_000, 1)).map((d) => d.key), ["a"]);
      }));

    it("settles only under the lease it holds; retries become due at nextAt; delivered and dead rows are never claimed", () =>
      withStore(async ({ store, clock }) => {
        await store.enqueueDelivery(delivery("a"));
        await store.enqueueDelivery(delivery("b"));
        const [a, b] = await store.claimDeliveries(10_000, 10);
        assert.equal(await store.settleDelivery(a.id, a.nextAt + 1, { state: "delivered", attempts: 1 }), false, "a stale lease settles nothing");
        assert.equal(await store.settleDelivery(a.id, a.nextAt, { state: "pending", attempts: 1, nextAt: T0 + 2_000, error: "status 503" }), true);
        assert.equal(await store.settleDelivery(b.id, b.nextAt, { state: "dead", attempts: 5, error: "status 410" }), true);
        assert.equal(await store.settleDelivery(b.id, b.nextAt, { state: "delivered", attempts: 6 }), false, "a dead delivery stays dead");
        clock.now = T0 + 1_999;
        assert.deepEqual(await store.claimDeliveries(10_000, 10), []);
        clock.now = T0 + 2_000;
        const [again] = await store.claimDeliveries(10_000, 10);
        assert.equal(again.key, "a");
        assert.equal(again.attempts, 1);
        assert.equal(again.lastError, "status 503");
        assert.equal(await store.settleDelivery(again.id, again.nextAt, { state: "delivered", attempts: 2 }), true);
        clock.now += 1_000_000;
        assert.deepEqual(await store.claimDeliveries(10_000, 10), []);
        const rows = await store.deliveriesOfAudit("aud_1");
        assert.deepEqual(rows.map((d) => [d.key, d.state, d.attempts, d.lastError]), [
          ["a", "delivered", 2, null],
          ["b", "dead", 5, "status 410"],
        ]);
      }));

    it("keeps pending deliveries across a restart", () =>
      withStore(async ({ h }) => {
        await h.store.enqueueDelivery(delivery("a"));
        const reopened = await h.reopen();
        const [a] = await reopened.claimDeliveries(1_000, 10);
        assert.equal(a.key, "a");
        assert.deepEqual(a.payload, { url: "https://x.test/cb", n: 1 });
      }));

    it("refuses malformed keys and leases", () =>
      withStore(async ({ store }) => {
        await assert.rejects(store.enqueueDelivery(delivery("")), { code: "validation_failed" });
        await assert.rejects(store.enqueueDelivery(delivery("a\nb")), { code: "validation_failed" });
        await assert.rejects(store.claimDeliveries(0, 10), { code: "validation_failed" });
      }));
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

    it("refuses a short secret and an unknown kind", () =>
      withStore(async ({ store }) => {
        await assert.rejects(store.createWatch({ tenant: "acme", kind: "mlflow", spec, secret: "short" }), { code: "validation_failed" });
        // @ts-expect-error an unknown kind, as a caller without types could pass
        await assert.rejects(store.createWatch({ tenant: "acme", kind: "s3", spec, secret: SECRET }), { code: "validation_failed" });
      }));
  });
}
