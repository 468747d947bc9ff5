import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { buildApiDocument, serializeDocument } from "../../src/http/openapi.ts";
import { OPENAPI_FILE } from "../../scripts/gen-openapi.ts";

describe("openapi/openapi.json", () => {
  it("matches the routes (run `npm run openapi` after changing a contract)", () => {
    const committed = readFileSync(OPENAPI_FILE, "utf8");
    assert.equal(committed, serializeDocument(buildApiDocument()), "openapi/openapi.json is stale: run `npm run openapi`");
  });

  it("describes every endpoint of the API, with problem responses and bearer security on /v1", () => {
    const doc = buildApiDocument() as unknown as { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(operations.sort(), [
      "DELETE /v1/audits/{id}",
      "DELETE /v1/watches/{id}",
      "GET /docs",
      "GET /livez",
      "GET /metrics",
      "GET /openapi.json",
      "GET /readyz",
      "GET /v1/audits",
      "GET /v1/audits/{id}",
      "GET /v1/audits/{id}/deliveries",
      "GET /v1/audits/{id}/events",
      "GET /v1/audits/{id}/report",
      "GET /v1/audits/{id}/results",
      "GET /v1/blobs/{digest}",
      "GET /v1/watches",
      "GET /v1/watches/{id}",
      "HEAD /v1/blobs/{digest}",
      "POST /v1/audits",
      "POST /v1/audits/{id}:cancel",
      "POST /v1/audits:validate",
      "POST /v1/hooks/huggingface/{watchId}",
      "POST /v1/hooks/mlflow/{watchId}",
      "POST /v1/watches",
      "PUT /v1/blobs/{digest}",
    ]);
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/")) continue;
      for (const [method, op] of Object.entries(item)) {
        // Registry webhooks carry no bearer token: the watch's secret authenticates them.
        assert.deepEqual(op.security, path.startsWith("/v1/hooks/") ? undefined : [{ bearerAuth: [] }], `${method} ${path}`);
        if (method === "head") continue;
        assert.ok(op.responses["401"]?.content?.["application/problem+json"], `${method} ${path} lacks a 401 problem`);
        assert.ok(op.responses["500"]?.content?.["application/problem+json"], `${method} ${path} lacks a 500 problem`);
      }
    }
  });
});
