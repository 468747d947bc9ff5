import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Gate } from "../jobs/test-executor.ts";
import {
  createAudit,
  digestOf,
  problemOf,
  startHarness,
  submitJson,
  uploadBlob,
  uploadInputs,
  waitForState,
  type Harness,
} from "./harness.ts";

type Audit = { id: string; state: string; inputs: Record<string, string>; config: Record<string, unknown>; links: Record<string, string> };

describe("POST /v1/audits (JSON) and reading audits", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("queues an audit: 202, Location, the resource with defaults applied; it runs to succeeded", async () => {
    const inputs = await uploadInputs(h);
    const res = await submitJson(h, { ...inputs, config: { views: 4, seed: 7 } });
    assert.equal(res.status, 202);
    const audit = (await res.json()) as Audit;
    assert.equal(res.headers.get("location"), `/v1/audits/${audit.id}`);
    assert.match(audit.id, /^aud_[0-9A-Z]{26}$/);
    assert.equal(audit.state, "queued");
    assert.deepEqual(audit.inputs, inputs);
    assert.equal(audit.config.views, 4);
    assert.equal(audit.config.augment, "simclr"); // default filled in
    assert.equal(audit.links.cancel, `/v1/audits/${audit.id}:cancel`);

    await waitForState(h.store, audit.id, ["succeeded"]);
    const done = (await (await h.request(`/v1/audits/${audit.id}`)).json()) as Audit & {
      summary: Record<string, number>;
      progress: Record<string, unknown>;
      error: unknown;
    };
    assert.equal(done.state, "succeeded");
    assert.deepEqual(done.summary, { points: 10, flagged: 3 });
    assert.deepEqual({ ...done.progress, etaSeconds: undefined }, { stage: "measuring", done: 10, total: 10, etaSeconds: undefined });
    assert.equal(done.error, null);
  });

  it("lists the caller's audits newest first with cursor pagination", async () => {
    const own = await startHarness();
    try {
      const ids = [await createAudit(own), await createAudit(own), await createAudit(own)];
      const page1 = (await (await own.request("/v1/audits?limit=2")).json()) as { items: Audit[]; nextCursor: string };
      assert.deepEqual(
        page1.items.map((a) => a.id),
        [ids[2], ids[1]],
      );
      const page2 = (await (await own.request(`/v1/audits?limit=2&cursor=${page1.nextCursor}`)).json()) as {
        items: Audit[];
        nextCursor: string | null;
      };
      assert.deepEqual(
        page2.items.map((a) => a.id),
        [ids[0]],
      );
      assert.equal(page2.nextCursor, null);
      const bob = (await (await own.request("/v1/audits", { token: own.tokens.bob })).json()) as { items: Audit[] };
      assert.deepEqual(bob.items, []);
    } finally {
      await own.close();
    }
  });

  it("honours Idempotency-Key: same request → same audit (200), different request → 422", async () => {
    const inputs = await uploadInputs(h, "idem");
    const key = { "idempotency-key": "ci-run-1234" };
    const first = await submitJson(h, { ...inputs, config: { views: 8 } }, { headers: key });
    assert.equal(first.status, 202);
    const id = ((await first.json()) as Audit).id;
    // Same request, keys in another order and a default spelled out: the same request.
    const replay = await submitJson(h, { config: { seed: 0, views: 8 }, candidates: inputs.candidates, reference: inputs.reference, target: inputs.target }, { headers: key });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(((await replay.json()) as Audit).id, id);

    const conflict = await submitJson(h, { ...inputs, config: { views: 9 } }, { headers: key });
    assert.equal(conflict.status, 422);
    const problem = await problemOf(conflict);
    assert.equal(problem.code, "idempotency_conflict");
    // Keys are per tenant: bob may use the same key for his own request.
    const bobInputs = await uploadInputs(h, "idem", h.tokens.bob);
    const bob = await submitJson(h, { ...bobInputs, config: { views: 8 } }, { headers: key, token: h.tokens.bob });
    assert.equal(bob.status, 202);
    assert.notEqual(((await bob.json()) as Audit).id, id);
  });

  it("reports validation errors with field paths (400 validation_failed)", async () => {
    const inputs = await uploadInputs(h);
    const cases: { body: unknown; path: string; message?: RegExp }[] = [
      { body: { ...inputs, config: { views: 0 } }, path: "config.views" },
      { body: { ...inputs, config: { fdr: 1 } }, path: "config.fdr" },
      { body: { ...inputs, config: { flag: "threshold" } }, path: "config.threshold" },
      { body: { ...inputs, target: "md5:abc" }, path: "target" },
      { body: { reference: inputs.reference, candidates: inputs.candidates }, path: "target" },
      { body: { ...inputs, extra: 1 }, path: "extra", message: /extra/ },
      { body: { ...inputs, config: { views: 300 } }, path: "config.views", message: /at most 256 on this server/ },
    ];
    for (const c of cases) {
      const res = await submitJson(h, c.body);
      const problem = await problemOf(res);
      assert.equal(res.status, 400, JSON.stringify(c.body));
      assert.equal(problem.code, "validation_failed");
      assert.equal(problem.type, "https://sslmem.dev/problems/validation_failed");
      assert.equal(typeof problem.requestId, "string");
      const errors = problem.errors as { path: string; message: string; location: string }[];
      const hit = errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}: ${JSON.stringify(errors)}`);
      assert.equal(hit.location, "body");
      if (c.message) assert.match(hit.message, c.message);
    }
  });

  it("refuses inputs the tenant has not uploaded (422 blob_not_found naming the field)", async () => {
    const inputs = await uploadInputs(h);
    const missing = digestOf("never uploaded");
    const res = await submitJson(h, { ...inputs, controls: missing });
    const problem = await problemOf(res);
    assert.equal(res.status, 422);
    assert.equal(problem.code, "blob_not_found");
    assert.deepEqual((problem.errors as { path: string }[]).map((e) => e.path), ["controls"]);
    // Another tenant's blob is as good as missing.
    const bobs = await uploadBlob(h, "bob's candidates", h.tokens.bob);
    const cross = await submitJson(h, { ...inputs, candidates: bobs });
    assert.equal(cross.status, 422);
    assert.deepEqual(((await problemOf(cross)).errors as { path: string }[]).map((e) => e.path), ["candidates"]);
  });

  it("answers malformed JSON, wrong media types and oversized bodies with problems", async () => {
    const malformed = await h.request("/v1/audits", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal(malformed.status, 400);
    assert.equal((await problemOf(malformed)).code, "validation_failed");

    const text = await h.request("/v1/audits", { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
    assert.equal(text.status, 415);
    assert.equal((await problemOf(text)).code, "unsupported_media_type");

    const none = await h.request("/v1/audits", { method: "POST" });
    assert.equal(none.status, 415);

    const big = await submitJson(h, { target: "x".repeat(2 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.equal((await problemOf(big)).code, "payload_too_large");
  });

  it("answers 404 for an unknown audit and 400 for a malformed id", async () => {
    const unknown = await h.request("/v1/audits/aud_00000000000000000000000000");
    assert.equal(unknown.status, 404);
    assert.equal((await problemOf(unknown)).code, "not_found");
    const malformed = await h.request("/v1/audits/not-an-id");
    assert.equal(malformed.status, 400);
    assert.equal(((await problemOf(malformed)).errors as { path: string; location: string }[])[0].location, "path");
  });
});

describe("POST /v1/audits (multipart)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  function form(parts: Record<string, string>): FormData {
    const f = new FormData();
    for (const [name, value] of Object.entries(parts)) {
      if (name === "config") f.append(name, value);
      else f.append(name, new Blob([value]), `${name}.bin`);
    }
    return f;
  }

  it("streams the files into blobs, owns them for the tenant and queues the audit", async () => {
    const parts = { target: "mp-target", reference: "mp-reference", candidates: "mp-candidates", controls: "mp-controls" };
    const res = await h.request("/v1/audits", { method: "POST", body: form({ ...parts, config: JSON.stringify({ views: 4 }) }) });
    assert.equal(res.status, 202);
    const audit = (await res.json()) as Audit;
    assert.deepEqual(audit.inputs, {
      target: digestOf(parts.target),
      reference: digestOf(parts.reference),
      candidates: digestOf(parts.candidates),
      controls: digestOf(parts.controls),
    });
    assert.equal(audit.config.views, 4);
    for (const bytes of Object.values(parts)) {
      assert.equal((await h.request(`/v1/blobs/${digestOf(bytes)}`, { method: "HEAD" })).status, 200);
    }
    assert.equal(await waitForState(h.store, audit.id, ["succeeded", "failed"]), "succeeded");
  });

  it("refuses incomplete or invalid submissions and keeps none of their new bytes", async () => {
    const owned = await uploadBlob(h, "already-owned-reference");
    const cases: { parts: Record<string, string>; path: string }[] = [
      { parts: { target: "t1", reference: "already-owned-reference" }, path: "candidates" },
      { parts: { target: "t2", reference: "r2", candidates: "c2", config: "{oops" }, path: "config" },
      { parts: { target: "t3", reference: "r3", candidates: "c3", config: '{"views":0}' }, path: "config.views" },
      { parts: { target: "t4", reference: "r4", candidates: "c4", weights: "w4" }, path: "weights" },
    ];
    for (const c of cases) {
      const res = await h.request("/v1/audits", { method: "POST", body: form(c.parts) });
      const problem = await problemOf(res);
      assert.equal(res.status, 400, JSON.stringify(c.parts));
      assert.equal(problem.code, "validation_failed");
      assert.ok((problem.errors as { path: string }[]).some((e) => e.path === c.path), JSON.stringify(problem.errors));
      for (const [name, bytes] of Object.entries(c.parts)) {
        if (name === "config" || bytes === "already-owned-reference") continue;
        assert.equal(await h.blobs.has(digestOf(bytes)), false, `${name} bytes were kept`);
        assert.equal(await h.store.tenantHasBlob("alice", digestOf(bytes)), false);
      }
    }
    // What the tenant owned before the refused request is untouched.
    assert.equal(await h.blobs.has(owned), true);
    assert.equal(await h.store.tenantHasBlob("alice", owned), true);
  });

  it("refuses a duplicated part", async () => {
    const f = form({ target: "d-t", reference: "d-r", candidates: "d-c" });
    f.append("target", new Blob(["again"]), "t2");
    const res = await h.request("/v1/audits", { method: "POST", body: f });
    assert.equal(res.status, 400);
    assert.match(String((await problemOf(res)).detail), /appears twice/);
  });
});

describe("queue limit, cancel and delete", () => {
  let h: Harness;
  let hold: Gate | undefined;
  before(async () => {
    h = await startHarness({
      config: { limits: { maxQueue: 1, queueRetryAfterSeconds: 7 } },
      executor: { firstBatchGate: () => hold },
    });
  });
  after(async () => {
    hold?.open();
    await h.close();
  });

  it("answers 429 queue_full with Retry-After once the queue is full", async () => {
    hold = new Gate();
    const running = await createAudit(h);
    await hold.reached;
    const queued = await createAudit(h); // waits behind the held one
    const inputs = await uploadInputs(h);
    const refused = await submitJson(h, inputs);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "7");
    assert.equal((await problemOf(refused)).code, "queue_full");

    // Cancel the queued one (200, cancelled at once) and the running one (its executor stops).
    const c1 = await h.request(`/v1/audits/${queued}:cancel`, { method: "POST" });
    assert.equal(c1.status, 200);
    assert.equal(((await c1.json()) as Audit).state, "cancelled");
    const c2 = await h.request(`/v1/audits/${running}:cancel`, { method: "POST" });
    assert.equal(c2.status, 200);
    assert.equal(((await c2.json()) as Audit).state, "cancelled");
    assert.deepEqual(h.executor.started, [running]);
    hold = undefined;

    // Cancelling again is idempotent; cancelling a finished audit is a conflict.
    assert.equal((await h.request(`/v1/audits/${queued}:cancel`, { method: "POST" })).status, 200);
    const done = await createAudit(h);
    await waitForState(h.store, done, ["succeeded"]);
    const late = await h.request(`/v1/audits/${done}:cancel`, { method: "POST" });
    assert.equal(late.status, 409);
    assert.equal((await problemOf(late)).code, "conflict");
    const bad = await h.request(`/v1/audits/nope:cancel`, { method: "POST" });
    assert.equal(bad.status, 400);
  });

  it("DELETE purges results, events and candidate blobs nobody else uses; models stay", async () => {
    const inputs = await uploadInputs(h, "del");
    const a = ((await (await submitJson(h, inputs)).json()) as Audit).id;
    const b = ((await (await submitJson(h, { ...inputs, config: { seed: 1 } })).json()) as Audit).id;
    await waitForState(h.store, a, ["succeeded"]);
    await waitForState(h.store, b, ["succeeded"]);
    assert.ok((await h.store.countResults(a)) > 0);

    const del = await h.request(`/v1/audits/${a}`, { method: "DELETE" });
    assert.equal(del.status, 204);
    assert.equal((await h.request(`/v1/audits/${a}`)).status, 404);
    assert.equal(await h.store.countResults(a), 0);
    assert.deepEqual(await h.store.readEvents(a, 0), []);
    // Audit b still uses the candidates: kept.
    assert.equal(await h.blobs.has(inputs.candidates), true);

    assert.equal((await h.request(`/v1/audits/${b}`, { method: "DELETE" })).status, 204);
    assert.equal(await h.blobs.has(inputs.candidates), false, "candidate bytes must be deleted from disk");
    assert.equal((await h.request(`/v1/blobs/${inputs.candidates}`, { method: "HEAD" })).status, 404);
    assert.equal((await h.request(`/v1/blobs/${inputs.target}`, { method: "HEAD" })).status, 200);
    assert.equal((await h.request(`/v1/audits/${b}`, { method: "DELETE" })).status, 404);
  });

  it("DELETE of a running audit cancels it first", async () => {
    hold = new Gate();
    const id = await createAudit(h);
    await hold.reached;
    assert.equal((await h.request(`/v1/audits/${id}`, { method: "DELETE" })).status, 204);
    hold = undefined;
    assert.equal(await h.store.getAuditInternal(id), null);
    assert.equal(h.runner.isAlive(), true);
  });
});
