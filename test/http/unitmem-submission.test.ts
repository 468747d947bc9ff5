/**
 * Submitting UnitMem audits: what is accepted (JSON and multipart, `kind` stored and shown) and
 * every bad combination refused with a stable code and the offending field's path, with nothing
 * queued. The engine is not needed here (the test executor stands in for it).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { problemOf, startHarness, submitJson, uploadBlob, uploadInputs, type Harness } from "./harness.ts";

describe("POST /v1/audits with kind unitmem", () => {
  let h: Harness;
  let encoder: string;
  let candidates: string;
  before(async () => {
    h = await startHarness({ startRunner: false });
    encoder = await uploadBlob(h, "unit-encoder");
    candidates = await uploadBlob(h, "unit-candidates");
  });
  after(() => h.close());

  it("queues a UnitMem audit with its defaults applied, and shows its kind", async () => {
    const res = await submitJson(h, { kind: "unitmem", encoder, candidates, config: { views: 8, baseline: "mean", layers: ["conv1"] } });
    const body = (await res.json()) as { id: string; kind: string; inputs: Record<string, string>; config: Record<string, unknown> };
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.kind, "unitmem");
    assert.deepEqual(body.inputs, { target: encoder, candidates });
    assert.deepEqual(
      { views: body.config.views, baseline: body.config.baseline, layers: body.config.layers, seed: body.config.seed, top: body.config.top },
      { views: 8, baseline: "mean", layers: ["conv1"], seed: 0, top: 20 },
    );
    const stored = await h.store.getAuditInternal(body.id);
    assert.equal(stored?.kind, "unitmem");
    const listed = (await (await h.request("/v1/audits")).json()) as { items: { id: string; kind: string }[] };
    assert.equal(listed.items.find((a) => a.id === body.id)?.kind, "unitmem");
    // The same request with the same key replays; an SSLMem audit still defaults to kind sslmem.
    const inputs = await uploadInputs(h);
    const plain = (await (await submitJson(h, inputs)).json()) as { kind: string };
    assert.equal(plain.kind, "sslmem");
    const explicit = (await (await submitJson(h, { kind: "sslmem", ...inputs })).json()) as { kind: string };
    assert.equal(explicit.kind, "sslmem");
  });

  it("replays a UnitMem submission under its Idempotency-Key and refuses another body under it", async () => {
    const headers = { "idempotency-key": "units-1" };
    const first = await submitJson(h, { kind: "unitmem", encoder, candidates }, { headers });
    const again = await submitJson(h, { kind: "unitmem", encoder, candidates, config: {} }, { headers });
    assert.deepEqual([first.status, again.status], [202, 200]);
    assert.equal(((await again.json()) as { id: string }).id, ((await first.json()) as { id: string }).id);
    const other = await submitJson(h, { kind: "unitmem", encoder, candidates, config: { views: 3 } }, { headers });
    assert.equal(((await problemOf(other)) as { code: string }).code, "idempotency_conflict");
  });

  it("refuses bad combinations with validation_failed and the offending path; nothing is queued", async () => {
    const inputs = await uploadInputs(h, "bad");
    const before = (await h.store.listAuditsByState(["queued"])).length;
    const cases: { body: unknown; path: string; message?: RegExp }[] = [
      { body: { kind: "unitmem", encoder, candidates, reference: inputs.reference }, path: "reference", message: /not a field of a UnitMem audit/ },
      { body: { kind: "unitmem", encoder, candidates, controls: inputs.candidates }, path: "controls" },
      { body: { kind: "unitmem", target: encoder, candidates }, path: "target" },
      { body: { kind: "unitmem", candidates }, path: "encoder" },
      { body: { kind: "unitmem", encoder, candidates, config: { flag: "fpr", alpha: 0.01 } }, path: "config.flag" },
      { body: { kind: "unitmem", encoder, candidates, config: { pairing: "original" } }, path: "config.pairing" },
      { body: { kind: "unitmem", encoder, candidates, config: { baseline: "max" } }, path: "config.baseline" },
      { body: { kind: "unitmem", encoder, candidates, config: { views: 300 } }, path: "config.views", message: /at most 256 on this server/ },
      { body: { kind: "sslmem", ...inputs, encoder }, path: "encoder" },
      { body: { ...inputs, config: { baseline: "median" } }, path: "config.baseline" },
      { body: { kind: "layermem", encoder, candidates }, path: "kind" },
    ];
    for (const c of cases) {
      const res = await submitJson(h, c.body);
      assert.equal(res.status, 400, JSON.stringify(c.body));
      const problem = (await problemOf(res)) as { code: string; errors: { path: string; message: string; location: string }[] };
      assert.equal(problem.code, "validation_failed");
      const hit = problem.errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}: ${JSON.stringify(problem.errors)}`);
      assert.equal(hit.location, "body");
      if (c.message) assert.match(hit.message, c.message);
    }
    // A digest the tenant never uploaded is named by the field the client sent (encoder, not target).
    const missing = await submitJson(h, { kind: "unitmem", encoder: `sha256:${"0".repeat(64)}`, candidates });
    assert.equal(missing.status, 422);
    const problem = (await problemOf(missing)) as { code: string; errors: { path: string }[] };
    assert.equal(problem.code, "blob_not_found");
    assert.deepEqual(problem.errors.map((e) => e.path), ["encoder"]);
    assert.equal((await h.store.listAuditsByState(["queued"])).length, before, "nothing was queued");
  });

  it("takes multipart parts kind, encoder, candidates and config; refuses a reference part", async () => {
    const form = () => {
      const f = new FormData();
      f.set("kind", "unitmem");
      f.set("encoder", new Blob(["multipart-encoder"]), "e.onnx");
      f.set("candidates", new Blob(["multipart-candidates"]), "c.npy");
      f.set("config", JSON.stringify({ views: 2 }));
      return f;
    };
    const ok = await h.request("/v1/audits", { method: "POST", body: form() });
    const body = (await ok.json()) as { kind: string; config: { views: number }; inputs: { reference?: string } };
    assert.equal(ok.status, 202, JSON.stringify(body));
    assert.deepEqual([body.kind, body.config.views, body.inputs.reference], ["unitmem", 2, undefined]);

    const bad = form();
    bad.set("reference", new Blob(["multipart-reference"]), "r.onnx");
    const refused = await h.request("/v1/audits", { method: "POST", body: bad });
    assert.equal(refused.status, 400);
    const problem = (await problemOf(refused)) as { code: string; errors: { path: string }[] };
    assert.equal(problem.code, "validation_failed");
    assert.deepEqual(problem.errors.map((e) => e.path), ["reference"]);
    // The refused request's fresh upload is forgotten (a refused request changes nothing).
    assert.equal(await h.store.tenantHasBlob("alice", `sha256:${(await import("node:crypto")).createHash("sha256").update("multipart-reference").digest("hex")}`), false);
  });

  it("answers an SSLMem audit's results with 400 for the UnitMem-only parameters", async () => {
    const inputs = await uploadInputs(h, "q");
    const { id } = (await (await submitJson(h, inputs)).json()) as { id: string };
    const res = await h.request(`/v1/audits/${id}/results?order=unitMem&layer=conv1`);
    assert.equal(res.status, 400);
    const problem = (await problemOf(res)) as { code: string; errors: { path: string; location: string }[] };
    assert.equal(problem.code, "validation_failed");
    assert.deepEqual(problem.errors.map((e) => `${e.location}:${e.path}`), ["query:order", "query:layer"]);
  });
});
