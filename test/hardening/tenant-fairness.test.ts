/**
 * Issue 13, tenant fairness (CASES.md, "Budgets"): one tenant's burst neither runs before
 * another tenant's audit nor takes every queued slot. Real runner, store and HTTP; the test
 * executor holds the first audit at a gate so the queue fills deterministically.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FairQueue } from "../../src/jobs/fair-queue.ts";
import { Gate } from "../jobs/test-executor.ts";
import { startHarness, submitJson, uploadInputs, waitForState } from "../http/harness.ts";

describe("issue 13: tenant fairness", () => {
  it("B14 the runner takes tenants round-robin, FIFO within a tenant", async () => {
    const hold = new Gate();
    const h = await startHarness({ executor: { points: 2, gateAt: (ordinal) => (ordinal === 0 ? hold : undefined) } });
    try {
      const alice = await uploadInputs(h, "a", h.tokens.alice);
      const bob = await uploadInputs(h, "b", h.tokens.bob);
      const submit = async (token: string, inputs: object, seed: number) => {
        const res = await submitJson(h, { ...inputs, config: { seed } }, { token });
        assert.equal(res.status, 202);
        return ((await res.json()) as { id: string }).id;
      };
      const first = await submit(h.tokens.alice, alice, 0);
      await hold.reached;
      const aliceBurst = [];
      for (let i = 1; i <= 4; i++) aliceBurst.push(await submit(h.tokens.alice, alice, i));
      const bobs = [await submit(h.tokens.bob, bob, 100), await submit(h.tokens.bob, bob, 101)];
      hold.open();
      for (const id of [...aliceBurst, ...bobs]) await waitForState(h.store, id, ["succeeded"]);
      assert.deepEqual(h.executor.started, [first, bobs[0], aliceBurst[0], bobs[1], aliceBurst[1], aliceBurst[2], aliceBurst[3]]);
    } finally {
      await h.close();
    }
  });

  it("B15 one tenant may hold at most SSLMEM_MAX_QUEUE_PER_TENANT queued audits (429 queue_full); another tenant still gets in", async () => {
    const hold = new Gate();
    const h = await startHarness({
      config: { limits: { maxQueue: 10, maxQueuePerTenant: 2 } },
      executor: { points: 2, gateAt: (ordinal) => (ordinal === 0 ? hold : undefined) },
    });
    try {
      const alice = await uploadInputs(h, "a", h.tokens.alice);
      const bob = await uploadInputs(h, "b", h.tokens.bob);
      const statuses: number[] = [];
      let refused: { code?: string; detail?: string } = {};
      for (let i = 0; i < 5; i++) {
        const res = await submitJson(h, { ...alice, config: { seed: i } }, { token: h.tokens.alice });
        statuses.push(res.status);
        const body = (await res.json()) as { code?: string; detail?: string };
        if (res.status === 429) refused = body;
        if (i === 0) await hold.reached; // the first one runs; the rest wait
      }
      assert.deepEqual(statuses, [202, 202, 202, 429, 429], "one running, two queued, then the tenant's share is full");
      assert.equal(refused.code, "queue_full");
      assert.match(String(refused.detail), /you already have 2 audits waiting/);
      const other = await submitJson(h, { ...bob, config: { seed: 9 } }, { token: h.tokens.bob });
      assert.equal(other.status, 202, "another tenant is not pushed out");
      hold.open();
    } finally {
      await h.close();
    }
  });

  it("B14 FairQueue: the least recently served tenant goes next; removal and has() work", () => {
    const q = new FairQueue();
    q.push("a1", "a");
    q.push("a2", "a");
    q.push("b1", "b");
    q.push("a1", "a"); // already waiting
    assert.equal(q.length, 3);
    assert.equal(q.shift(), "a1");
    q.push("c1", "c");
    assert.equal(q.shift(), "b1");
    assert.equal(q.shift(), "c1");
    assert.ok(q.has("a2"));
    assert.equal(q.remove("a2"), true);
    assert.equal(q.shift(), undefined);
  });
});
