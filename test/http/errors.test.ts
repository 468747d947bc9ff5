import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SslmemError } from "../../src/core/errors.ts";
import type { Store } from "../../src/store/types.ts";
import { createAudit, problemOf, startHarness, type Harness } from "./harness.ts";

const LEAKY = "database disk image is malformed at /var/lib/sslmem/secret.db";

/** The real store, with getAudit / listAudits broken on demand (fault injection). */
function faulty(store: Store, faults: { getAudit?: Error; listAudits?: Error }): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "getAudit" && faults.getAudit) return async () => Promise.reject(faults.getAudit);
      if (prop === "listAudits" && faults.listAudits) return async () => Promise.reject(faults.listAudits);
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("error responses", () => {
  let h: Harness;
  const faults: { getAudit?: Error; listAudits?: Error } = {};
  before(async () => {
    h = await startHarness({ wrapStore: (s) => faulty(s, faults) });
  });
  after(() => h.close());

  it("a 5xx body carries no message, stack or path — only the code and the request id, which the log has", async () => {
    const id = await createAudit(h);
    faults.getAudit = new Error(LEAKY);
    faults.listAudits = new SslmemError("store_failure", "the store could not list audits", undefined, { cause: new Error(LEAKY) });
    try {
      for (const path of [`/v1/audits/${id}`, "/v1/audits"]) {
        const res = await h.request(path, { headers: { "x-request-id": `trace-${path.length}` } });
        assert.equal(res.status, 500);
        const text = await res.text();
        assert.equal(res.headers.get("content-type"), "application/problem+json");
        assert.deepEqual(JSON.parse(text), {
          type: "https://sslmem.dev/problems/internal",
          title: "Internal Server Error",
          status: 500,
          code: "internal",
          requestId: `trace-${path.length}`,
        });
        assert.equal(/secret|\/var\/|at .*\(|malformed|store could not/.test(text), false, text);
        const line = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === `trace-${path.length}`);
        assert.ok(line, "the failure is logged under the request id");
        assert.equal(line.level, 50);
        assert.equal(line.status, 500);
        assert.ok(JSON.stringify(line.err).includes("secret.db") || JSON.stringify(line.err).includes("store could not"));
      }
    } finally {
      delete faults.getAudit;
      delete faults.listAudits;
    }
  });

  it("an unknown route is a 404 problem; X-Request-Id is echoed or made", async () => {
    const res = await h.request("/v1/nothing-here", { headers: { "x-request-id": "abc-123" } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("x-request-id"), "abc-123");
    const problem = await problemOf(res);
    assert.equal(problem.code, "not_found");
    assert.equal(problem.requestId, "abc-123");
    const unsafe = await h.request("/livez", { headers: { "x-request-id": "bad id\twith spaces" }, token: null });
    assert.match(unsafe.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    const publicMissing = await h.request("/nope", { token: null });
    assert.equal(publicMissing.status, 404);
    assert.equal((await problemOf(publicMissing)).code, "not_found");
  });
});
