/**
 * A submission with `callbackUrl` through the real app: the callback's outbox row is written with
 * the audit (one transaction), so it is visible at /v1/audits/{id}/deliveries as soon as the 202
 * is, and an Idempotency-Key replay adds no second one. The runner is not started: the audit stays
 * queued, so nothing but the submission can have written the row.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startHarness, submitJson, uploadInputs, type Harness } from "./harness.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CALLBACK = "https://hooks.example.test/sslmem?token=abc";

type Deliveries = { items: { kind: string; state: string; attempts: number; lastError: string | null }[] };

describe("POST /v1/audits with callbackUrl", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ startRunner: false, config: { sources: { allow: ["hooks.example.test"] }, callbacks: { secrets: { alice: SECRET } } } });
  });
  after(() => h.close());

  it("has the callback's delivery visible right after the 202; a replay adds none", async () => {
    const inputs = await uploadInputs(h);
    const body = { ...inputs, config: { views: 2 }, callbackUrl: CALLBACK };
    const res = await submitJson(h, body, { headers: { "idempotency-key": "cb-1" } });
    const audit = (await res.json()) as { id: string; state: string };
    assert.equal(res.status, 202, JSON.stringify(audit));
    assert.equal(audit.state, "queued");

    const listed = await h.request(`/v1/audits/${audit.id}/deliveries`);
    assert.equal(listed.status, 200);
    assert.deepEqual(((await listed.json()) as Deliveries).items.map((d) => [d.kind, d.state, d.attempts, d.lastError]), [["callback", "pending", 0, null]]);
    const [row] = await h.store.deliveriesOfAudit(audit.id);
    assert.deepEqual(row.payload, { url: CALLBACK });
    assert.deepEqual((await h.store.readEvents(audit.id, 0)).map((e) => [e.seq, e.type, e.data]), [[1, "state", { state: "queued" }]]);

    const replay = await submitJson(h, body, { headers: { "idempotency-key": "cb-1" } });
    assert.equal(replay.status, 200);
    assert.equal(((await replay.json()) as { id: string }).id, audit.id);
    assert.equal((await h.store.deliveriesOfAudit(audit.id)).length, 1, "a replay writes no second delivery");
    assert.equal((await h.store.readEvents(audit.id, 0)).length, 1, "nor a second queued event");
  });

  it("writes nothing when the callback is refused (a host off the allowlist)", async () => {
    const inputs = await uploadInputs(h, "b");
    const res = await submitJson(h, { ...inputs, callbackUrl: "https://elsewhere.test/hook" });
    assert.equal(res.status, 422);
    assert.equal(((await res.json()) as { code: string }).code, "source_not_allowed");
    const page = (await (await h.request("/v1/audits?limit=10")).json()) as { items: { inputs: { target: string } }[] };
    assert.ok(!page.items.some((a) => a.inputs.target === inputs.target), "no audit of the refused submission");
  });
});
