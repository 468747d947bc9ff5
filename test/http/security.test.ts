import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createAudit, problemOf, startHarness, submitJson, uploadBlob, uploadInputs, waitForState, type Harness } from "./harness.ts";

const SECRET_CANDIDATE = "patient-0042 chest x-ray bytes";

describe("authentication and tenant isolation", () => {
  let h: Harness;
  let auditId: string;
  let blob: string;
  before(async () => {
    h = await startHarness();
    blob = await uploadBlob(h, SECRET_CANDIDATE);
    const inputs = await uploadInputs(h);
    const res = await submitJson(h, { ...inputs, candidates: blob });
    auditId = ((await res.json()) as { id: string }).id;
    await waitForState(h.store, auditId, ["succeeded"]);
  });
  after(() => h.close());

  const tenantScoped = (id: string, digest: string): [string, string, RequestInit?][] => [
    ["GET", `/v1/audits/${id}`],
    ["GET", `/v1/audits/${id}/results`],
    ["GET", `/v1/audits/${id}/results?format=ndjson`],
    ["GET", `/v1/audits/${id}/results?format=csv`],
    ["GET", `/v1/audits/${id}/report`],
    ["GET", `/v1/audits/${id}/events`],
    ["POST", `/v1/audits/${id}:cancel`],
    ["DELETE", `/v1/audits/${id}`],
    ["GET", `/v1/blobs/${digest}`],
    ["HEAD", `/v1/blobs/${digest}`],
  ];

  it("answers 404 (never 403, never the data) for another tenant's audit and blobs on every endpoint", async () => {
    for (const [method, path] of tenantScoped(auditId, blob)) {
      const res = await h.request(path, { method, token: h.tokens.bob });
      assert.equal(res.status, 404, `${method} ${path}`);
      if (method !== "HEAD") assert.equal((await problemOf(res)).code, "not_found", `${method} ${path}`);
    }
    // Nothing was changed by bob's attempts.
    const audit = (await (await h.request(`/v1/audits/${auditId}`)).json()) as { state: string };
    assert.equal(audit.state, "succeeded");
    assert.equal(await h.blobs.has(blob), true);
    const list = (await (await h.request("/v1/audits", { token: h.tokens.bob })).json()) as { items: unknown[] };
    assert.deepEqual(list.items, []);
  });

  it("requires a valid bearer token on every /v1 endpoint (401 with WWW-Authenticate)", async () => {
    const revoked = await h.store.createToken("alice");
    await h.store.revokeToken(revoked.id);
    const endpoints: [string, string][] = [
      ...tenantScoped(auditId, blob).map(([m, p]) => [m, p] as [string, string]),
      ["GET", "/v1/audits"],
      ["POST", "/v1/audits"],
      ["PUT", `/v1/blobs/${blob}`],
    ];
    const credentials: [string | null, string | undefined, RegExp][] = [
      [null, undefined, /^Bearer realm="sslmem"$/],
      ["sslm_" + "A".repeat(43), undefined, /error="invalid_token"/],
      [revoked.token, undefined, /error="invalid_token"/],
      [null, `Basic ${Buffer.from("alice:pw").toString("base64")}`, /^Bearer realm="sslmem"$/],
    ];
    for (const [method, path] of endpoints) {
      for (const [token, raw, challenge] of credentials) {
        const headers: Record<string, string> = raw ? { authorization: raw } : {};
        const res = await h.request(path, { method, token, headers });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.match(res.headers.get("www-authenticate") ?? "", challenge);
        if (method !== "HEAD") assert.equal((await problemOf(res)).code, "unauthorized");
      }
    }
  });

  it("serves health, metrics and docs without a token", async () => {
    for (const path of ["/livez", "/readyz", "/metrics", "/openapi.json", "/docs"]) {
      const res = await h.request(path, { token: null });
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
  });

  it("never logs tokens or candidate content; logs one line per request with the tenant", async () => {
    await h.request("/v1/audits", { token: "sslm_" + "B".repeat(43) });
    const logs = h.logs.join("");
    for (const secret of [h.tokens.alice, h.tokens.bob, "sslm_" + "B".repeat(43), SECRET_CANDIDATE]) {
      assert.equal(logs.includes(secret), false, "a secret reached the log");
    }
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");
    const get = lines.find((l) => l.method === "GET" && l.path === `/v1/audits/${auditId}` && l.tenant === "alice");
    assert.ok(get, "no request line for the audit read");
    assert.equal(get.route, "/v1/audits/{id}");
    assert.equal(get.status, 200);
    assert.equal(typeof get.durationMs, "number");
    assert.equal(typeof get.reqId, "string");
  });
});

describe("SSLMEM_AUTH=disabled", () => {
  it("acts as tenant 'local' without a token", async () => {
    const h = await startHarness({ config: { auth: "disabled" } });
    try {
      const id = await createAudit(h, {}, undefined);
      const res = await h.request(`/v1/audits/${id}`, { token: null });
      assert.equal(res.status, 200);
      assert.equal((await h.store.getAudit("local", id))?.id, id);
    } finally {
      await h.close();
    }
  });
});
