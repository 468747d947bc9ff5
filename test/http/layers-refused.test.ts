/**
 * The service cannot store per-layer rows yet: an audit asking for LayerMem is refused at
 * submission (422 invalid_config naming config.layers), not run with its layers silently dropped.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { problemOf, startHarness, submitJson, uploadInputs, type Harness } from "./harness.ts";

describe("POST /v1/audits with config.layers", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("is refused with invalid_config naming the field", async () => {
    const inputs = await uploadInputs(h);
    const res = await submitJson(h, { ...inputs, config: { views: 4, layers: "auto" } });
    assert.equal(res.status, 422);
    const problem = (await problemOf(res)) as { code: string; detail: string; errors?: { path: string }[] };
    assert.equal(problem.code, "invalid_config");
    assert.match(problem.detail, /sslmem audit --layers/);
    assert.deepEqual(problem.errors?.map((e) => e.path), ["config.layers"]);
    const list = await (await h.request("/v1/audits")).json();
    assert.equal((list as { items: unknown[] }).items.length, 0, "nothing was queued");
  });
});
