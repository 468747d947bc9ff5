/**
 * Clients that go away in the middle of an upload. A blob is published by an atomic rename only
 * after its bytes hashed to the digest, so a torn upload must never be visible under the digest
 * (HEAD 404, no file), its temp file must be removed, and its upload slot released.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { digestOf, startHarness, type Harness } from "../http/harness.ts";
import { pollUntil } from "../helpers/poll.ts";

const tmpFiles = (h: Harness) => readdirSync(join(h.dir, "blobs", "tmp"));
const blobFile = (h: Harness, digest: string) => join(h.dir, "blobs", "sha256", digest.slice(7, 9), digest.slice(9));

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  await pollUntil(check, { what });
}

/**
 * Sends the headers and the first `sentBytes` of a body, waits until the server has written some
 * of it to a temp file, checks `whileOpen`, then destroys the socket.
 */
async function tornUpload(
  h: Harness,
  path: string,
  headers: Record<string, string>,
  head: Buffer,
  whileOpen: () => Promise<void>,
): Promise<void> {
  const req = request(h.url + path, { method: headers["x-method"] ?? "PUT", headers: { authorization: `Bearer ${h.tokens.alice}`, ...headers } });
  req.on("error", () => {}); // the socket is destroyed on purpose
  req.flushHeaders();
  req.write(head);
  await until("the server wrote part of the body to a temp file", () =>
    tmpFiles(h).some((f) => {
      try {
        return statSync(join(h.dir, "blobs", "tmp", f)).size > 0;
      } catch {
        return false;
      }
    }),
  );
  await whileOpen();
  req.destroy();
}

describe("client disconnects during an upload", () => {
  let h: Harness;
  before(async () => {
    // One upload slot: a leaked slot would make the next upload 429. A long body timeout: the
    // cleanup below must come from noticing the disconnect, not from the idle timer.
    h = await startHarness({ config: { limits: { maxConcurrentUploadsPerTenant: 1, bodyTimeoutMs: 120_000 } } });
  });
  after(() => h.close());

  for (const framing of ["content-length", "chunked"] as const) {
    it(`PUT /v1/blobs (${framing}): nothing visible under the digest, no temp file, slot released`, async () => {
      const body = randomBytes(3 * 1024 * 1024);
      const digest = digestOf(body);
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      if (framing === "content-length") headers["content-length"] = String(body.length);
      else headers["transfer-encoding"] = "chunked";
      await tornUpload(h, `/v1/blobs/${digest}`, headers, body.subarray(0, 1024 * 1024), async () => {
        const head = await h.request(`/v1/blobs/${digest}`, { method: "HEAD" });
        assert.equal(head.status, 404, "an upload in progress is not visible");
      });
      await until("the temp file is removed", () => tmpFiles(h).length === 0);
      assert.equal((await h.request(`/v1/blobs/${digest}`, { method: "HEAD" })).status, 404);
      assert.equal(existsSync(blobFile(h, digest)), false, "no file under the digest");
      assert.equal(await h.store.tenantHasBlob("alice", digest), false, "no ownership recorded");
      // The slot came back: the same upload now succeeds in full.
      await until("the upload slot is released", async () => {
        const res = await h.request(`/v1/blobs/${digest}`, { method: "PUT", body, headers: { "content-type": "application/octet-stream" } });
        await res.arrayBuffer();
        if (res.status === 429) return false;
        assert.equal(res.status, 201);
        return true;
      });
      assert.equal(existsSync(blobFile(h, digest)), true);
      assert.equal(tmpFiles(h).length, 0);
    });
  }

  it("POST /v1/audits (multipart): no audit, no blob, no temp file when the client disconnects mid-part", async () => {
    const boundary = "sslmemTornBoundary";
    const file = randomBytes(2 * 1024 * 1024);
    const head = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="candidates"; filename="c.npy"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file.subarray(0, 1024 * 1024),
    ]);
    const before = (await h.store.listAudits("alice", { limit: 1000 })).items.length;
    await tornUpload(
      h,
      "/v1/audits",
      { "x-method": "POST", "content-type": `multipart/form-data; boundary=${boundary}`, "transfer-encoding": "chunked" },
      head,
      async () => {},
    );
    await until("the temp file is removed", () => tmpFiles(h).length === 0);
    assert.equal((await h.store.listAudits("alice", { limit: 1000 })).items.length, before, "no audit was created");
    assert.equal(existsSync(blobFile(h, digestOf(file))), false);
    assert.equal(existsSync(blobFile(h, digestOf(file.subarray(0, 1024 * 1024)))), false, "not even the bytes that arrived");
  });
});
