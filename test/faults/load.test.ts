/**
 * A small run of scripts/load-test.ts (the `npm run load` harness) as a test: 20 concurrent
 * clients against a real `sslmem serve` with a queue of 5, so most first submissions get 429.
 * Asserts the invariants only (never timings): every accepted audit ends terminal, none is
 * duplicated (each client sends its request twice at once and later replays it), the store holds
 * exactly the accepted audits with all their points, and the queue never exceeded its limit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runLoadTest } from "../../scripts/load-test.ts";

describe("load: concurrent submitters and pollers", () => {
  it("loses and duplicates no accepted audit, and holds the queue limit", async () => {
    const report = await runLoadTest({ clients: 20, tenants: 3, points: 3, views: 2, maxQueue: 5, pollMs: 50, maxSeconds: 120 });
    assert.deepEqual(report.violations, []);
    assert.equal(report.clientsAccepted, 20, "every client got its audit accepted (after 429s)");
    assert.equal(report.store.audits, 20);
    assert.equal(report.store.distinctKeys, 20);
    assert.equal(report.store.incompleteSucceeded, 0);
    assert.deepEqual(report.auditsByState, { succeeded: 20 });
    assert.ok(report.submit.rejected429 > 0, "the queue limit was reached (429 exercised)");
    assert.ok(report.maxQueueDepth <= 5, `queue depth ${report.maxQueueDepth}`);
    assert.equal(report.submit.accepted, 20, "exactly one 202 per client; its twin and the replay are 200");
    assert.equal(report.submit.other, 0);
  });
});
