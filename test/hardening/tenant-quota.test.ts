/**
 * Issue 13, per-tenant storage quota (CASES.md, "Budgets"): past its quota of blob bytes or of
 * audits a tenant's uploads and submissions are refused with `quota_exceeded`; another tenant is
 * not affected, and deleting frees the quota.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { digestOf, startHarness, submitJson, uploadBlob, uploadInputs } from "../http/harness.ts";

describe("issue 13: tenant storage quota", () => {
  it("B17 blob bytes: an upload past SSLMEM_TENANT_STORAGE_BYTES is cut and refused; owned blobs re-upload; Bob is unaffected", async () => {
    const h = await startHarness({ config: { limits: { tenantStorageBytes: 1000 } } });
    try {
      const first = "a".repeat(600);
      await uploadBlob(h, first, h.tokens.alice);
      const second = "b".repeat(600);
      const res = await h.request(`/v1/blobs/${digestOf(second)}`, { method: "PUT", body: second, headers: { "content-type": "application/octet-stream" }, token: h.tokens.alice });
      const problem = (await res.json()) as { code: string; detail: string };
      assert.equal(res.status, 429);
      assert.equal(problem.code, "quota_exceeded");
      assert.match(problem.detail, /storage quota of 1000 bytes/);
      assert.equal((await h.request(`/v1/blobs/${digestOf(second)}`, { method: "HEAD", token: h.tokens.alice })).status, 404, "nothing stored");
      assert.deepEqual(readdirSync(join(h.dir, "blobs", "tmp")), [], "no temp file left");
      await uploadBlob(h, first, h.tokens.alice); // already owned: costs nothing
      await uploadBlob(h, second, h.tokens.bob);
      // At the quota, nothing more (even 1 byte) is accepted.
      await uploadBlob(h, "c".repeat(400), h.tokens.alice);
      const full = await h.request(`/v1/blobs/${digestOf("d")}`, { method: "PUT", body: "d", headers: { "content-type": "application/octet-stream" }, token: h.tokens.alice });
      assert.equal(full.status, 429);
    } finally {
      await h.close();
    }
  });

  it("B17 audits: the submission past SSLMEM_MAX_AUDITS_PER_TENANT is refused; deleting one frees a slot", async () => {
    const h = await startHarness({ config: { limits: { maxAuditsPerTenant: 2 } } });
    try {
      const inputs = await uploadInputs(h, "a", h.tokens.alice);
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await submitJson(h, { ...inputs, config: { seed: i } }, { token: h.tokens.alice });
        assert.equal(res.status, 202);
        ids.push(((await res.json()) as { id: string }).id);
      }
      const refused = await submitJson(h, { ...inputs, config: { seed: 3 } }, { token: h.tokens.alice });
      const problem = (await refused.json()) as { code: string };
      assert.equal(refused.status, 429);
      assert.equal(problem.code, "quota_exceeded");
      const bobInputs = await uploadInputs(h, "b", h.tokens.bob);
      assert.equal((await submitJson(h, bobInputs, { token: h.tokens.bob })).status, 202, "Bob is not affected");
      assert.equal((await h.request(`/v1/audits/${ids[0]}`, { method: "DELETE", token: h.tokens.alice })).status < 300, true);
      assert.equal((await submitJson(h, { ...inputs, config: { seed: 4 } }, { token: h.tokens.alice })).status, 202);
    } finally {
      await h.close();
    }
  });

  it("B17 audits: each LayerMem layer an audit stores counts as one more audit; deleting the audit frees them", async () => {
    const h = await startHarness({ config: { limits: { maxAuditsPerTenant: 3 } } });
    try {
      const inputs = await uploadInputs(h, "a", h.tokens.alice);
      const res = await submitJson(h, { ...inputs, config: { layers: "auto" } }, { token: h.tokens.alice });
      assert.equal(res.status, 202);
      const id = ((await res.json()) as { id: string }).id;
      // What the engine records when the audit starts measuring (the test executor resolves no layers).
      const layer = (name: string, final: boolean) => ({ name, target: name, reference: name, final, shape: [4], dim: 4 });
      await h.store.recordLayers(id, [layer("block1", false), layer("embedding", true)]);
      const refused = await submitJson(h, { ...inputs, config: { seed: 1 } }, { token: h.tokens.alice });
      assert.equal(refused.status, 429);
      const problem = (await refused.json()) as { code: string; detail: string };
      assert.equal(problem.code, "quota_exceeded");
      assert.match(problem.detail, /1 audits and 2 LayerMem layers, each counted as one more audit/);
      assert.ok((await h.request(`/v1/audits/${id}`, { method: "DELETE", token: h.tokens.alice })).status < 300);
      // (DELETE purged the candidates this audit alone referenced: upload again.)
      const again = await uploadInputs(h, "a2", h.tokens.alice);
      assert.equal((await submitJson(h, { ...again, config: { seed: 2 } }, { token: h.tokens.alice })).status, 202);
    } finally {
      await h.close();
    }
  });
});
