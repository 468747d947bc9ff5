/**
 * Tenant isolation for every endpoint, enumerated from the served OpenAPI document so that a new
 * endpoint cannot be forgotten: any operation with a path parameter is checked automatically
 * (another tenant's audit or blob → 404, indistinguishable from a missing one, nothing changed);
 * an operation without one must be classified in COLLECTION_CHECKS or this test fails.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Gate } from "../jobs/test-executor.ts";
import { digestOf, startHarness, submitJson, uploadBlob, uploadInputs, waitForState, type Harness } from "../http/harness.ts";

interface Operation {
  method: string;
  path: string;
  secured: boolean;
}

type Check = (h: Harness, ctx: Context) => Promise<void>;

interface Context {
  finished: string;
  /** alice's watch. */
  watch: string;
  running: string;
  candidates: string;
  candidateBytes: string;
}

const SECRET = "alice-private-candidate-archive";

/** Operations without a path parameter: what "isolated" means for each. */
const COLLECTION_CHECKS: Record<string, Check> = {
  "GET /v1/audits": async (h, ctx) => {
    const res = await h.request("/v1/audits?limit=100", { token: h.tokens.bob });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text.includes(ctx.finished) || text.includes(ctx.running), false, "bob's list shows alice's audits");
  },
  "GET /v1/watches": async (h, ctx) => {
    const res = await h.request("/v1/watches", { token: h.tokens.bob });
    assert.equal(res.status, 200);
    assert.equal((await res.text()).includes(ctx.watch), false, "bob's list shows alice's watch");
  },
  "POST /v1/watches": async (h, ctx) => {
    const bobModels = await uploadInputs(h, "bob", h.tokens.bob);
    const res = await h.request("/v1/watches", {
      method: "POST",
      token: h.tokens.bob,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject: { kind: "mlflow", model: "m" }, reference: bobModels.reference, candidates: ctx.candidates }),
    });
    assert.equal(res.status, 422, "bob cannot watch with alice's candidates by naming their digest");
    assert.equal(((await res.json()) as { code: string }).code, "blob_not_found");
  },
  "POST /v1/audits": async (h, ctx) => {
    const bobModels = await uploadInputs(h, "bob", h.tokens.bob);
    const res = await submitJson(h, { ...bobModels, candidates: ctx.candidates }, { token: h.tokens.bob });
    assert.equal(res.status, 422, "bob cannot audit alice's candidates by naming their digest");
    assert.equal(((await res.json()) as { code: string }).code, "blob_not_found");
  },
  "POST /v1/audits:validate": async (h, ctx) => {
    const bobModels = await uploadInputs(h, "bob", h.tokens.bob);
    const res = await h.request("/v1/audits:validate", {
      method: "POST",
      token: h.tokens.bob,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...bobModels, candidates: ctx.candidates }),
    });
    assert.equal(res.status, 422, "bob cannot validate against alice's candidates by naming their digest");
    const body = (await res.json()) as { code: string; detail: string };
    assert.equal(body.code, "blob_not_found");
    assert.equal(JSON.stringify(body).includes(SECRET), false);
  },
};

async function operations(h: Harness): Promise<Operation[]> {
  const doc = (await (await h.request("/openapi.json", { token: null })).json()) as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
    security?: unknown[];
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!["get", "put", "post", "delete", "head", "patch"].includes(method)) continue;
      const security = op.security ?? doc.security ?? [];
      ops.push({ method: method.toUpperCase(), path, secured: security.length > 0 });
    }
  }
  return ops;
}

describe("tenant isolation on every endpoint of the OpenAPI document", () => {
  let h: Harness;
  let hold: Gate | undefined;
  const ctx = {} as Context;
  before(async () => {
    h = await startHarness({ executor: { firstBatchGate: () => hold } });
    ctx.candidateBytes = SECRET;
    ctx.candidates = await uploadBlob(h, SECRET);
    const models = await uploadInputs(h, "alice");
    const done = await submitJson(h, { ...models, candidates: ctx.candidates });
    ctx.finished = ((await done.json()) as { id: string }).id;
    const watch = await h.request("/v1/watches", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject: { kind: "mlflow", model: "m" }, reference: models.reference, candidates: ctx.candidates }),
    });
    assert.equal(watch.status, 201);
    ctx.watch = ((await watch.json()) as { id: string }).id;
    await waitForState(h.store, ctx.finished, ["succeeded"]);
    hold = new Gate();
    const held = await submitJson(h, { ...models, candidates: ctx.candidates, config: { seed: 3 } });
    ctx.running = ((await held.json()) as { id: string }).id;
    await hold.reached;
  });
  after(async () => {
    hold?.open();
    await h.close();
  });

  it("covers every operation: path-parameter operations → 404 for another tenant; the others are classified", async () => {
    const ops = await operations(h);
    assert.ok(ops.length >= 10, "read the document");
    const checked: string[] = [];
    for (const op of ops) {
      const key = `${op.method} ${op.path}`;
      if (!op.secured && op.path.startsWith("/v1/hooks/")) {
        // Registry webhooks prove themselves with the watch's secret: without it, 401 and nothing leaks.
        const res = await h.request(op.path.replace("{watchId}", ctx.watch), { method: op.method, token: h.tokens.bob, headers: { "content-type": "application/json" }, body: "{}" });
        assert.equal(res.status, 401, `${key} without the watch's secret`);
        const text = await res.text();
        for (const secret of [ctx.watch, ctx.candidates, SECRET, "alice"]) assert.equal(text.includes(secret), false, `${key} exposes tenant data`);
        checked.push(key);
        continue;
      }
      if (!op.secured) {
        if (op.path.startsWith("/v1/")) assert.fail(`${key} is under /v1 but has no security requirement`);
        // Public operational endpoints: they must not show any tenant's data.
        const res = await h.request(op.path, { method: op.method, token: null });
        const text = await res.text();
        for (const secret of [ctx.finished, ctx.running, ctx.candidates, SECRET, "alice"]) {
          assert.equal(text.includes(secret), false, `${key} exposes tenant data`);
        }
        checked.push(key);
        continue;
      }
      if (/\{(id|digest)\}/.test(op.path)) {
        const targets = op.path.includes("{digest}") ? [ctx.candidates] : op.path.startsWith("/v1/watches/") ? [ctx.watch] : [ctx.finished, ctx.running];
        for (const target of targets) {
          const path = op.path.replace("{id}", target).replace("{digest}", target);
          const init: RequestInit & { token: string } = { method: op.method, token: h.tokens.bob };
          if (op.method === "PUT") init.body = "bob's different bytes"; // not proof of possession
          if (op.method === "POST" && !path.includes(":")) {
            init.body = "{}";
            init.headers = { "content-type": "application/json" };
          }
          const res = await h.request(path, init);
          const text = await res.text();
          if (op.method === "PUT") {
            assert.equal(res.status, 422, `${key}: bob's bytes do not hash to alice's digest`);
            assert.equal((JSON.parse(text) as { code: string }).code, "digest_mismatch");
          } else {
            assert.equal(res.status, 404, `${key} with alice's ${target.slice(0, 10)}… answered ${res.status}`);
            if (op.method !== "HEAD") {
              const problem = JSON.parse(text) as { code: string; status: number };
              assert.deepEqual([problem.code, problem.status], ["not_found", 404], key);
              // The same answer as for something that does not exist.
              const missingId = op.path.startsWith("/v1/watches/") ? "wch_00000000000000000000000000" : "aud_00000000000000000000000000";
              const missing = op.path.replace("{id}", missingId).replace("{digest}", digestOf("nothing"));
              const other = await h.request(missing, { method: op.method, token: h.tokens.bob });
              assert.equal(other.status, 404, `${key} for a missing resource`);
              assert.equal(((await other.json()) as { code: string }).code, "not_found");
            }
            assert.equal(text.includes(SECRET), false);
          }
        }
        checked.push(key);
        continue;
      }
      const check = COLLECTION_CHECKS[key];
      assert.ok(check, `new endpoint ${key}: add its tenant-isolation check to COLLECTION_CHECKS`);
      await check(h, ctx);
      checked.push(key);
    }
    assert.equal(checked.length, ops.length);
    for (const required of ["DELETE /v1/audits/{id}", "POST /v1/audits/{id}:cancel", "GET /v1/audits/{id}/events", "GET /v1/blobs/{digest}"]) {
      assert.ok(checked.includes(required), `${required} was checked`);
    }

    // Nothing bob did changed alice's data.
    assert.equal((await h.store.getAudit("alice", ctx.finished))?.state, "succeeded");
    assert.equal((await h.store.getAudit("alice", ctx.running))?.state, "running", "bob's cancel/delete did not touch the running audit");
    assert.ok((await h.store.countResults(ctx.finished)) > 0, "results intact");
    assert.equal(await h.blobs.has(ctx.candidates), true);
    assert.equal(await h.store.tenantHasBlob("bob", ctx.candidates), false, "bob did not gain the blob");
    const own = await h.request(`/v1/audits/${ctx.finished}/results`);
    assert.equal(own.status, 200, "alice still reads her results");
    await own.arrayBuffer();
  });
});
