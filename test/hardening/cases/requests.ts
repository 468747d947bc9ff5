/**
 * Hostile requests to the API itself: media types, bodies that are not what they claim, numbers
 * out of range, impossible policies, digests that lie, idempotency misuse, ids and queries that
 * are not what they should be. All are refused before anything is stored. (Multipart and bodies
 * that never end: requests-streams.ts.)
 */
import assert from "node:assert/strict";
import { digestOf } from "../support/context.ts";
import { HARDENING_LIMITS } from "../support/server.ts";
import { CHEAP_CONFIG } from "./inputs.ts";
import type { CaseContext, HostileCase } from "./types.ts";

const withConfig = (config: unknown) => (ctx: CaseContext) => ctx.submitJson({ ...ctx.valid, config });

export const refused400 = { kind: "refused", status: 400, code: "validation_failed" } as const;

export const REQUEST_CASES: HostileCase[] = [
  // ---- media types and body shapes ----
  {
    id: "R01",
    category: "request",
    input: "POST /v1/audits with Content-Type text/plain (a JSON text)",
    layer: "http: media type",
    expect: { kind: "refused", status: 415, code: "unsupported_media_type" },
    run: (ctx) => ctx.request("/v1/audits", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(ctx.valid) }),
  },
  {
    id: "R02",
    category: "request",
    input: "POST /v1/audits with a body and no Content-Type",
    layer: "http: media type",
    expect: { kind: "refused", status: 415, code: "unsupported_media_type" },
    run: (ctx) => ctx.request("/v1/audits", { method: "POST", body: new Blob([JSON.stringify(ctx.valid)]) }),
  },
  {
    id: "R03",
    category: "request",
    input: "POST /v1/audits as application/x-www-form-urlencoded",
    layer: "http: media type",
    expect: { kind: "refused", status: 415, code: "unsupported_media_type" },
    run: (ctx) =>
      ctx.request("/v1/audits", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(ctx.valid).toString(),
      }),
  },
  {
    id: "R04",
    category: "request",
    input: "malformed JSON ({\"target\": )",
    layer: "http: JSON parse",
    expect: refused400,
    run: (ctx) => ctx.submitJson('{"target": '),
  },
  {
    id: "R05",
    category: "request",
    input: "JSON body that is an array, null, a number",
    layer: "http: request schema",
    expect: refused400,
    checks: "all three refused the same way",
    run: async (ctx) => {
      for (const body of ["[]", "null"]) {
        const res = await ctx.submitJson(body);
        assert.equal(res.status, 400, `${body}: ${res.text}`);
        assert.equal(res.json.code, "validation_failed");
      }
      return ctx.submitJson("42");
    },
  },
  {
    id: "R06",
    category: "request",
    input: "empty JSON object (no inputs)",
    layer: "http: request schema",
    expect: refused400,
    run: (ctx) => ctx.submitJson({}),
  },
  {
    id: "R07",
    category: "request",
    input: "unknown top-level field (\"tenant\": \"bob\")",
    layer: "http: request schema (strict)",
    expect: refused400,
    run: (ctx) => ctx.submitJson({ ...ctx.valid, tenant: "bob" }),
  },
  {
    id: "R08",
    category: "request",
    input: "unknown config field (\"__proto__\": {\"views\": 1}, \"gpu\": true)",
    layer: "http: AuditConfig schema (strict)",
    expect: refused400,
    run: (ctx) => ctx.submitJson(`{"target":"${ctx.valid.target}","reference":"${ctx.valid.reference}","candidates":"${ctx.valid.candidates}","config":{"__proto__":{"views":1},"gpu":true}}`),
  },
  {
    id: "R09",
    category: "request",
    input: "JSON nested 100000 arrays deep inside config",
    layer: "http: JSON parse + schema",
    expect: refused400,
    run: (ctx) => ctx.submitJson(`{"target":"${ctx.valid.target}","reference":"${ctx.valid.reference}","candidates":"${ctx.valid.candidates}","config":{"views":${"[".repeat(30_000)}${"]".repeat(30_000)}}}`),
  },
  // ---- numbers out of range ----
  {
    id: "R10",
    category: "request",
    input: "config.views = 0",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ views: 0 }),
  },
  {
    id: "R11",
    category: "request",
    input: "config.views = 10^9",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ views: 1e9 }),
  },
  {
    id: "R12",
    category: "request",
    input: `config.views = ${HARDENING_LIMITS.maxViews + 1} (schema allows it, the server's maxViews does not)`,
    layer: "http: server limit",
    expect: refused400,
    checks: "errors[0].path is config.views",
    run: async (ctx) => {
      const res = await ctx.submitJson({ ...ctx.valid, config: { views: HARDENING_LIMITS.maxViews + 1 } });
      assert.equal(res.json?.errors?.[0]?.path, "config.views");
      return res;
    },
  },
  {
    id: "R13",
    category: "request",
    input: "config.fdr = 1 (q ≥ 1) with flag fdr",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ flag: "fdr", fdr: 1 }),
  },
  {
    id: "R14",
    category: "request",
    input: "config.fpr = 0.5, robustZ = -1",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ fpr: 0.5, robustZ: -1 }),
  },
  {
    id: "R15",
    category: "request",
    input: "config.seed = -1 and 2^32; batchSize = 0",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: async (ctx) => {
      for (const config of [{ seed: -1 }, { seed: 2 ** 32 }]) {
        const res = await ctx.submitJson({ ...ctx.valid, config });
        assert.equal(res.status, 400, `${JSON.stringify(config)}: ${res.text}`);
      }
      return ctx.submitJson({ ...ctx.valid, config: { batchSize: 0 } });
    },
  },
  {
    id: "R16",
    category: "request",
    input: "config.views as a string (\"16\") and as 1e400 (Infinity after parsing)",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: async (ctx) => {
      const res = await ctx.submitJson({ ...ctx.valid, config: { views: "16" } });
      assert.equal(res.status, 400, res.text);
      return ctx.submitJson(`{"target":"${ctx.valid.target}","reference":"${ctx.valid.reference}","candidates":"${ctx.valid.candidates}","config":{"views":1e400}}`);
    },
  },
  {
    id: "R17",
    category: "request",
    input: "flag threshold without a threshold",
    layer: "http: AuditConfig refinement",
    expect: refused400,
    run: withConfig({ flag: "threshold" }),
  },
  {
    id: "R18",
    category: "request",
    input: "preprocessing std [0,1,1], range [1,0], inputSize 0×5000",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ preprocessing: { std: [0, 1, 1], range: [1, 0], inputSize: { height: 0, width: 5000 } } }),
  },
  // ---- impossible policies ----
  {
    id: "R19",
    category: "request",
    input: "policy randomResizedCrop scale [0.9, 0.1] (min > max)",
    layer: "http: policy schema",
    expect: refused400,
    run: withConfig({ augment: { ops: [{ op: "randomResizedCrop", scale: [0.9, 0.1] }] } }),
  },
  {
    id: "R20",
    category: "request",
    input: "policy ops out of order and repeated (flip, crop, flip)",
    layer: "http: policy schema",
    expect: refused400,
    run: withConfig({ augment: { ops: [{ op: "horizontalFlip" }, { op: "randomResizedCrop" }, { op: "horizontalFlip" }] } }),
  },
  {
    id: "R21",
    category: "request",
    input: "policy gaussianBlur kernelSize 4 (even), sigma [0, 0]",
    layer: "http: policy schema",
    expect: refused400,
    run: withConfig({ augment: { ops: [{ op: "gaussianBlur", kernelSize: 4, sigma: [0, 0] }] } }),
  },
  {
    id: "R22",
    category: "request",
    input: "policy colorJitter hue 0.75, p 1.5; unknown op \"rotate\"",
    layer: "http: policy schema",
    expect: refused400,
    run: withConfig({ augment: { ops: [{ op: "colorJitter", hue: 0.75, p: 1.5 }], secondViewOps: [{ op: "rotate", degrees: 90 }] } }),
  },
  {
    id: "R23",
    category: "request",
    input: "augment preset \"simclr2\" and an outputName of 10000 characters",
    layer: "http: AuditConfig schema",
    expect: refused400,
    run: withConfig({ augment: "simclr2", outputName: "x".repeat(10_000) }),
  },
  // ---- digests ----
  {
    id: "R24",
    category: "request",
    input: "PUT /v1/blobs/{digest} with bytes that hash to something else",
    layer: "upload: re-hash while streaming",
    expect: { kind: "refused", status: 422, code: "digest_mismatch" },
    checks: "no blob file and no ownership row left",
    run: (ctx) =>
      ctx.request(`/v1/blobs/${digestOf("the declared bytes")}`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: "other bytes entirely",
      }),
  },
  {
    id: "R25",
    category: "request",
    input: "PUT /v1/blobs/ with malformed digests (uppercase hex, md5:, ../ in the path)",
    layer: "http: path schema",
    expect: refused400,
    run: async (ctx) => {
      for (const bad of [`sha256:${"A".repeat(64)}`, `md5:${"a".repeat(32)}`]) {
        const res = await ctx.request(`/v1/blobs/${bad}`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: "x" });
        assert.equal(res.status, 400, `${bad}: ${res.text}`);
      }
      const res = await ctx.request(`/v1/blobs/sha256:..%2F..%2Fsslmem.db`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: "x" });
      assert.ok(res.status === 400 || res.status === 404, `traversal digest: ${res.status} ${res.text}`);
      return ctx.request(`/v1/blobs/sha256:${"g".repeat(64)}`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: "x" });
    },
  },
  {
    id: "R26",
    category: "request",
    input: "audit referencing a digest that was never uploaded",
    layer: "http: blob ownership",
    expect: { kind: "refused", status: 422, code: "blob_not_found" },
    run: (ctx) => ctx.submitJson({ ...ctx.valid, candidates: digestOf("never uploaded") }),
  },
  {
    id: "R27",
    category: "request",
    input: "alice's audit referencing a blob only bob uploaded",
    layer: "http: blob ownership (tenant isolation)",
    expect: { kind: "refused", status: 422, code: "blob_not_found" },
    setup: async (ctx) => ctx.upload(Buffer.from("bob's private candidate archive"), ctx.tokens.bob),
    run: (ctx, bobsDigest: string) => ctx.submitJson({ ...ctx.valid, candidates: bobsDigest }),
  },
  // ---- idempotency ----
  {
    id: "R28",
    category: "request",
    input: "Idempotency-Key reused with a different request",
    layer: "store: idempotency",
    expect: { kind: "refused", status: 422, code: "idempotency_conflict" },
    setup: async (ctx) => {
      const res = await ctx.submitJson({ ...ctx.valid, config: CHEAP_CONFIG }, { "idempotency-key": "hardening-R28" });
      assert.equal(res.status, 202, res.text);
      await ctx.waitFinished(res.json.id);
    },
    run: (ctx) => ctx.submitJson({ ...ctx.valid, config: { ...CHEAP_CONFIG, seed: 8 } }, { "idempotency-key": "hardening-R28" }),
  },
  {
    id: "R29",
    category: "request",
    input: "Idempotency-Key of 256 characters; with a space and non-ASCII",
    layer: "http: header schema",
    expect: refused400,
    run: async (ctx) => {
      const res = await ctx.submitJson({ ...ctx.valid, config: CHEAP_CONFIG }, { "idempotency-key": "key with space" });
      assert.equal(res.status, 400, res.text);
      return ctx.submitJson({ ...ctx.valid, config: CHEAP_CONFIG }, { "idempotency-key": "k".repeat(256) });
    },
  },
  // ---- other endpoints ----
  {
    id: "R41",
    category: "request",
    input: "GET results with limit=0, limit=10^9, cursor of 5000 characters",
    layer: "http: query schema",
    expect: refused400,
    run: async (ctx) => {
      const id = (await ctx.request("/v1/audits?limit=1")).json.items[0].id;
      for (const q of ["limit=0", "limit=1000000000"]) {
        const res = await ctx.request(`/v1/audits/${id}/results?${q}`);
        assert.equal(res.status, 400, `${q}: ${res.text}`);
      }
      return ctx.request(`/v1/audits/${id}/results?cursor=${"c".repeat(5000)}`);
    },
  },
  {
    id: "R42",
    category: "request",
    input: "cancel/get/delete with ids that are not audit ids (aud_../../x, 300 chars)",
    layer: "http: path schema",
    expect: refused400,
    run: async (ctx) => {
      const cancel = await ctx.request(`/v1/audits/aud_..%2F..%2Fx:cancel`, { method: "POST" });
      assert.ok(cancel.status === 400 || cancel.status === 404, `cancel: ${cancel.status} ${cancel.text}`);
      const del = await ctx.request(`/v1/audits/${"a".repeat(300)}`, { method: "DELETE" });
      assert.equal(del.status, 400, del.text);
      return ctx.request(`/v1/audits/aud_%00%0a`);
    },
  },
];
