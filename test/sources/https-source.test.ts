/**
 * `https://…#sha256=` references against real HTTP servers on 127.0.0.1: the pin verifies the
 * bytes, a pinned file already stored is not downloaded again, and every failure has its code
 * and leaves the blob store as it was.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { resolveSource } from "../../src/sources/resolve.ts";
import { localServer, sourceFixture, type LocalServer } from "../helpers/sources.ts";

const MODEL = Buffer.from("pretend these are the bytes of an ONNX model ".repeat(200));
const HEX = createHash("sha256").update(MODEL).digest("hex");

function code(c: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SslmemError, String(e));
    assert.equal(e.code, c, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

function storedBlobs(dir: string): string[] {
  const root = join(dir, "blobs", "sha256");
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)).map((f) => d + f));
}

describe("https references", () => {
  let server: LocalServer;
  before(async () => {
    server = await localServer(async (req, res) => {
      const path = new URL(req.url!, "http://x").pathname;
      switch (path) {
        case "/model.onnx":
          res.end(MODEL);
          return;
        case "/other.onnx":
          res.end(Buffer.from("not the pinned bytes"));
          return;
        case "/private.onnx":
          if (req.headers.authorization !== "Bearer s3cret") {
            res.writeHead(401).end();
            return;
          }
          res.end(MODEL);
          return;
        case "/forbidden.onnx":
          res.writeHead(403).end();
          return;
        case "/broken.onnx":
          res.writeHead(500).end("stack trace of the server");
          return;
        case "/slow.onnx":
          res.writeHead(200, { "content-length": String(MODEL.length) });
          res.write(MODEL.subarray(0, 100)); // then nothing more
          return;
        case "/huge-declared.onnx":
          res.writeHead(200, { "content-length": String(10 * MODEL.length) });
          res.end();
          return;
        case "/huge-chunked.onnx":
          res.writeHead(200); // no content-length: the limit must hold while streaming
          for (let i = 0; i < 10; i++) res.write(MODEL);
          res.end();
          return;
        case "/moved.onnx":
          res.writeHead(301, { location: "/model.onnx" }).end();
          return;
        default:
          res.writeHead(404).end();
      }
    });
  });
  after(() => server.close());

  const allow = () => ({ allow: [server.host] });

  it("downloads a pinned file once: the second resolution finds it in the blob store", async () => {
    const f = await sourceFixture(allow());
    const uri = `${server.url}/model.onnx#sha256=${HEX}`;
    const first = await resolveSource(f.ctx, uri, { kind: "model" });
    assert.deepEqual(first, {
      uri,
      scheme: "https",
      resolved: `${server.url}/model.onnx#sha256=${HEX}`,
      file: "model.onnx",
      digest: `sha256:${HEX}`,
      size: MODEL.length,
    });
    assert.deepEqual(await f.blobs.size(`sha256:${HEX}`), MODEL.length);
    const before = server.requests.length;
    const second = await resolveSource(f.ctx, uri, { kind: "model" });
    assert.deepEqual(second, first);
    assert.equal(server.requests.length, before, "nothing downloaded the second time");
  });

  it("follows a redirect on the same allowed host", async () => {
    const f = await sourceFixture(allow());
    const id = await resolveSource(f.ctx, `${server.url}/moved.onnx#sha256=${HEX}`, { kind: "model" });
    assert.equal(id.digest, `sha256:${HEX}`);
  });

  it("refuses other bytes than pinned (digest_mismatch) and stores nothing", async () => {
    const f = await sourceFixture(allow());
    await assert.rejects(resolveSource(f.ctx, `${server.url}/other.onnx#sha256=${HEX}`, { kind: "model" }), code("digest_mismatch", /not the expected sha256:/));
    assert.deepEqual(storedBlobs(f.dir), []);
  });

  it("requires a pin unless unpinned references are allowed", async () => {
    const f = await sourceFixture(allow());
    await assert.rejects(resolveSource(f.ctx, `${server.url}/model.onnx`, { kind: "model" }), code("source_invalid", /#sha256=/));
    const id = await resolveSource(f.ctx, `${server.url}/model.onnx`, { kind: "model", allowUnpinned: true });
    assert.equal(id.digest, `sha256:${HEX}`);
    assert.equal(id.resolved, `${server.url}/model.onnx#sha256=${HEX}`, "the identity pins what was fetched");
  });

  it("maps 401, 403, 404 and 500 to stable codes, with no server text in the message", async () => {
    const f = await sourceFixture(allow());
    const pin = `#sha256=${HEX}`;
    await assert.rejects(resolveSource(f.ctx, `${server.url}/private.onnx${pin}`, { kind: "model" }), code("source_auth_failed"));
    await assert.rejects(resolveSource(f.ctx, `${server.url}/forbidden.onnx${pin}`, { kind: "model" }), code("source_auth_failed"));
    await assert.rejects(resolveSource(f.ctx, `${server.url}/missing.onnx${pin}`, { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, `${server.url}/broken.onnx${pin}`, { kind: "model" }), (e: unknown) => {
      code("source_unreachable", /HTTP 500/)(e);
      assert.doesNotMatch((e as Error).message, /stack trace/);
      return true;
    });
    assert.deepEqual(storedBlobs(f.dir), []);
  });

  it("sends the credential header configured for the host", async () => {
    const f = await sourceFixture({ ...allow(), credentials: [{ host: server.host, header: "Authorization", value: "Bearer s3cret" }] });
    const id = await resolveSource(f.ctx, `${server.url}/private.onnx#sha256=${HEX}`, { kind: "model" });
    assert.equal(id.digest, `sha256:${HEX}`);
    assert.doesNotMatch(JSON.stringify(id), /s3cret/);
  });

  it("gives up on a source that stops sending (source_unreachable) and stores nothing", async () => {
    const f = await sourceFixture({ ...allow(), timeoutMs: 300 });
    await assert.rejects(resolveSource(f.ctx, `${server.url}/slow.onnx#sha256=${HEX}`, { kind: "model" }), code("source_unreachable"));
    assert.deepEqual(storedBlobs(f.dir), []);
    assert.deepEqual(readdirSync(join(f.dir, "blobs", "tmp")), [], "no partial file left behind");
  });

  it("refuses files over the upload limit, declared or streamed (source_too_large)", async () => {
    const f = await sourceFixture(allow(), { maxBytes: 2 * MODEL.length });
    await assert.rejects(resolveSource(f.ctx, `${server.url}/huge-declared.onnx#sha256=${HEX}`, { kind: "model" }), code("source_too_large"));
    await assert.rejects(resolveSource(f.ctx, `${server.url}/huge-chunked.onnx#sha256=${HEX}`, { kind: "model" }), code("source_too_large"));
    assert.deepEqual(storedBlobs(f.dir), []);
  });

  it("refuses a host off the allowlist in service mode, and fetches it in local (CLI) mode", async () => {
    const service = await sourceFixture({ allow: ["models.example.com"] });
    await assert.rejects(resolveSource(service.ctx, `${server.url}/model.onnx#sha256=${HEX}`, { kind: "model" }), code("source_not_allowed"));
    const local = await sourceFixture({}, { mode: "local" });
    assert.equal((await resolveSource(local.ctx, `${server.url}/model.onnx#sha256=${HEX}`, { kind: "model" })).digest, `sha256:${HEX}`);
  });
});
