import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { digestOf, problemOf, startHarness, uploadBlob, type Harness } from "./harness.ts";
import { pollUntil } from "../helpers/poll.ts";

/** A PUT whose body the test writes by hand (chunked), to hold an upload open or stall it. */
function openUpload(h: Harness, path: string, token: string) {
  const url = new URL(h.url + path);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
  });
  req.on("error", () => undefined); // the server may cut the connection after answering
  const response = new Promise<{ status: number; body: string; headers: IncomingMessage["headers"] }>((resolve) => {
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
  });
  req.flushHeaders();
  return { req, response };
}

async function until(condition: () => boolean): Promise<void> {
  await pollUntil(condition, { what: "the upload's condition" });
}

function tmpFiles(h: Harness): string[] {
  return readdirSync(join(h.dir, "blobs", "tmp"));
}

describe("blobs", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { limits: { maxBlobBytes: 1024, maxConcurrentUploadsPerTenant: 1, bodyTimeoutMs: 300 } } });
  });
  after(() => h.close());

  it("PUT stores new bytes (201), again is 200; HEAD and GET answer with the size and bytes", async () => {
    const bytes = "an encoder, pretend";
    const digest = digestOf(bytes);
    const first = await h.request(`/v1/blobs/${digest}`, { method: "PUT", body: bytes });
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("location"), `/v1/blobs/${digest}`);
    assert.deepEqual(await first.json(), { digest, size: bytes.length });
    const again = await h.request(`/v1/blobs/${digest}`, { method: "PUT", body: bytes });
    assert.equal(again.status, 200);
    await again.body?.cancel();

    const head = await h.request(`/v1/blobs/${digest}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(bytes.length));
    const get = await h.request(`/v1/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("etag"), `"${digest}"`);
    assert.equal(await get.text(), bytes);
  });

  it("refuses bytes that do not hash to the digest (422) and stores nothing", async () => {
    const claimed = digestOf("what the client said");
    const res = await h.request(`/v1/blobs/${claimed}`, { method: "PUT", body: "what it sent" });
    const problem = await problemOf(res);
    assert.equal(res.status, 422);
    assert.equal(problem.code, "digest_mismatch");
    assert.equal(problem.actual, digestOf("what it sent"));
    assert.equal(await h.blobs.has(claimed), false);
    assert.equal(await h.blobs.has(digestOf("what it sent")), false);
    assert.equal((await h.request(`/v1/blobs/${claimed}`, { method: "HEAD" })).status, 404);
    assert.deepEqual(tmpFiles(h), []);
  });

  it("answers 413 for a declared Content-Length over the limit", async () => {
    const bytes = "x".repeat(2000);
    const res = await h.request(`/v1/blobs/${digestOf(bytes)}`, { method: "PUT", body: bytes });
    assert.equal(res.status, 413);
    assert.equal((await problemOf(res)).code, "payload_too_large");
  });

  it("enforces the size limit while streaming a body of undeclared length", async () => {
    const bytes = Buffer.alloc(4000, 7);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(bytes.subarray(i * 1000, (i + 1) * 1000));
        controller.close();
      },
    });
    const res = await h.request(`/v1/blobs/${digestOf(bytes)}`, { method: "PUT", body, duplex: "half" } as RequestInit);
    assert.equal(res.status, 413);
    const problem = await problemOf(res);
    assert.equal(problem.code, "payload_too_large");
    assert.equal(problem.maxBytes, 1024);
    assert.equal(await h.blobs.has(digestOf(bytes)), false);
    assert.deepEqual(tmpFiles(h), []);
  });

  it("validates the digest in the path", async () => {
    const res = await h.request(`/v1/blobs/sha256:${"A".repeat(64)}`, { method: "PUT", body: "x" });
    const problem = await problemOf(res);
    assert.equal(res.status, 400);
    assert.equal(problem.code, "validation_failed");
    assert.deepEqual(problem.errors, [
      { path: "digest", message: 'must be "sha256:" followed by 64 lowercase hex characters', location: "path" },
    ]);
  });

  it("hides a blob from other tenants until they upload the same bytes themselves", async () => {
    const bytes = "alice's private candidate archive";
    const digest = await uploadBlob(h, bytes);
    assert.equal((await h.request(`/v1/blobs/${digest}`, { method: "HEAD", token: h.tokens.bob })).status, 404);
    const get = await h.request(`/v1/blobs/${digest}`, { token: h.tokens.bob });
    assert.equal(get.status, 404);
    assert.equal((await problemOf(get)).code, "not_found");
    // Knowing the digest is not enough: bob must send the bytes, which are re-hashed.
    const fake = await h.request(`/v1/blobs/${digest}`, { method: "PUT", body: "guess", token: h.tokens.bob });
    assert.equal(fake.status, 422);
    assert.equal((await h.request(`/v1/blobs/${digest}`, { method: "HEAD", token: h.tokens.bob })).status, 404);
    const real = await h.request(`/v1/blobs/${digest}`, { method: "PUT", body: bytes, token: h.tokens.bob });
    assert.equal(real.status, 201);
    assert.equal((await h.request(`/v1/blobs/${digest}`, { method: "HEAD", token: h.tokens.bob })).status, 200);
  });

  it("limits concurrent uploads per tenant (429 with Retry-After), not across tenants", async () => {
    const bytes = "slow upload";
    const digest = digestOf(bytes);
    const slow = openUpload(h, `/v1/blobs/${digest}`, h.tokens.alice);
    slow.req.write("slow ");
    // The slot is held once the upload's temp file exists (polling state, not time).
    await until(() => tmpFiles(h).length > 0);
    const probe = await h.request(`/v1/blobs/${digestOf("other")}`, { method: "PUT", body: "other" });
    assert.equal(probe.status, 429);
    assert.equal(probe.headers.get("retry-after"), "1");
    assert.equal((await problemOf(probe)).code, "rate_limited");
    const bob = await h.request(`/v1/blobs/${digestOf("bob's")}`, { method: "PUT", body: "bob's", token: h.tokens.bob });
    assert.equal(bob.status, 201);
    slow.req.end("upload");
    assert.equal((await slow.response).status, 201);
    const next = await h.request(`/v1/blobs/${digestOf("after")}`, { method: "PUT", body: "after" });
    assert.equal(next.status, 201);
  });

  it("abandons a stalled body with 408 and publishes nothing", async () => {
    const digest = digestOf("never finished");
    const stalled = openUpload(h, `/v1/blobs/${digest}`, h.tokens.bob);
    stalled.req.write("never ");
    const res = await stalled.response;
    assert.equal(res.status, 408);
    assert.equal(JSON.parse(res.body).code, "request_timeout");
    stalled.req.destroy();
    assert.equal(await h.blobs.has(digest), false);
    assert.deepEqual(tmpFiles(h), []);
  });
});
