import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SslmemError } from "../../src/core/errors.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";

const root = mkdtempSync(join(tmpdir(), "sslmem-blobs-"));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `store-${++counter}`);

const sha = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const MB = 1 << 20;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SslmemError, `expected SslmemError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Files under the store's directory, relative, sorted (temp files included). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(prefix + e.name);
    }
  };
  walk(dir, "");
  return out.sort();
}

/** Yields `chunks` of `size` bytes, then optionally fails like a client that hung up. */
function chunked(chunks: number, size: number, fail?: Error): AsyncIterable<Uint8Array> & { pulled: number; finished: boolean } {
  const state = { pulled: 0, finished: false };
  const iterable = {
    get pulled() {
      return state.pulled;
    },
    get finished() {
      return state.finished;
    },
    async *[Symbol.asyncIterator]() {
      try {
        for (let i = 0; i < chunks; i++) {
          state.pulled++;
          yield new Uint8Array(size).fill(i % 251);
        }
        if (fail) throw fail;
      } finally {
        state.finished = true;
      }
    },
  };
  return iterable;
}

describe("FileBlobStore", () => {
  it("stores bytes under their digest, content-addressed", async () => {
    const dir = freshDir();
    const blobs = await FileBlobStore.open(dir);
    const bytes = Buffer.from("an encoder, byte for byte");
    const digest = sha(bytes);
    assert.equal(await blobs.has(digest), false);
    assert.equal(await blobs.size(digest), null);

    const put = await blobs.put(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), { maxBytes: 1024 });
    assert.deepEqual(put, { digest, size: bytes.length });
    assert.equal(await blobs.has(digest), true);
    assert.equal(await blobs.size(digest), bytes.length);

    const hex = digest.slice("sha256:".length);
    assert.equal(blobs.pathFor(digest), join(dir, "sha256", hex.slice(0, 2), hex.slice(2)));
    assert.deepEqual(readFileSync(blobs.pathFor(digest)), bytes);
    assert.deepEqual(await readAll(await blobs.openRead(digest)), bytes);
    assert.deepEqual(listFiles(dir), [`sha256/${hex.slice(0, 2)}/${hex.slice(2)}`]);
  });

  it("accepts the expected digest and an upload of exactly maxBytes", async () => {
    const blobs = await FileBlobStore.open(freshDir());
    const bytes = new Uint8Array(3 * 1000);
    for (let i = 0; i < 3; i++) bytes.fill(i, i * 1000, (i + 1) * 1000); // what chunked(3, 1000) yields
    const put = await blobs.put(chunked(3, 1000), { expectedDigest: sha(bytes), maxBytes: 3000 });
    assert.equal(put.digest, sha(bytes));
    assert.equal(put.size, 3000);
  });

  it("stores an empty blob", async () => {
    const blobs = await FileBlobStore.open(freshDir());
    const put = await blobs.put(Readable.from([]), { maxBytes: 10 });
    assert.deepEqual(put, { digest: sha(new Uint8Array()), size: 0 });
    assert.equal(await blobs.size(put.digest), 0);
  });

  it("is idempotent for bytes it already has", async () => {
    const dir = freshDir();
    const blobs = await FileBlobStore.open(dir);
    const bytes = Buffer.from("same bytes");
    const first = await blobs.put(Readable.from([bytes]), { maxBytes: 100 });
    const second = await blobs.put(Readable.from([bytes]), { maxBytes: 100, expectedDigest: first.digest });
    assert.deepEqual(second, first);
    assert.equal(listFiles(dir).length, 1);
    assert.deepEqual(readFileSync(blobs.pathFor(first.digest)), bytes);
  });

  it("refuses a digest mismatch and keeps nothing", async () => {
    const dir = freshDir();
    const blobs = await FileBlobStore.open(dir);
    const claimed = sha(Buffer.from("what the client said"));
    await assert.rejects(
      blobs.put(Readable.from([Buffer.from("what it sent")]), { maxBytes: 100, expectedDigest: claimed }),
      (e: unknown) => {
        assert.ok(e instanceof SslmemError, "an SslmemError");
        assert.equal(e.code, "digest_mismatch");
        assert.equal(e.details?.actual, sha(Buffer.from("what it sent")));
        return true;
      },
    );
    assert.equal(await blobs.has(claimed), false);
    assert.equal(await blobs.has(sha(Buffer.from("what it sent"))), false);
    assert.deepEqual(listFiles(dir), []);
  });

  it("stops reading at maxBytes, while streaming", async () => {
    const dir = freshDir();
    const blobs = await FileBlobStore.open(dir);
    const source = chunked(100, MB / 4); // 25 MiB offered
    await rejectsWithCode(blobs.put(source, { maxBytes: MB }), "payload_too_large");
    assert.equal(source.pulled, 5, "the 5th chunk crossed the limit and nothing after it was read");
    assert.equal(source.finished, true, "the source was closed");
    assert.deepEqual(listFiles(dir), []);
  });

  it("destroys a Readable source that goes over the limit", async () => {
    const blobs = await FileBlobStore.open(freshDir());
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield Buffer.alloc(1024, i);
      })(),
    );
    await rejectsWithCode(blobs.put(stream, { maxBytes: 10_000 }), "payload_too_large");
    assert.equal(stream.destroyed, true);
  });

  it("leaves nothing behind when the client disconnects mid-upload", async () => {
    const dir = freshDir();
    const blobs = await FileBlobStore.open(dir);
    const hangup = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    const source = chunked(4, 64 * 1024, hangup);
    await assert.rejects(blobs.put(source, { maxBytes: MB }), (e: unknown) => e === hangup);
    const wouldBe = new Uint8Array(4 * 64 * 1024);
    for (let i = 0; i < 4; i++) wouldBe.fill(i, i * 64 * 1024, (i + 1) * 64 * 1024);
    assert.equal(await blobs.has(sha(wouldBe)), false);
    assert.deepEqual(listFiles(dir), []);
  });

  it("validates digests", async () => {
    const blobs = await FileBlobStore.open(freshDir());
    const upper = `sha256:${"A".repeat(64)}`;
    for (const bad of ["", "sha256:abc", upper, `md5:${"a".repeat(32)}`, `sha256:${"a".repeat(64)}/../x`]) {
      await rejectsWithCode(blobs.has(bad), "validation_failed");
      await rejectsWithCode(blobs.openRead(bad), "validation_failed");
      await rejectsWithCode(blobs.delete(bad), "validation_failed");
      assert.throws(() => blobs.pathFor(bad), (e: unknown) => e instanceof SslmemError && e.code === "validation_failed");
    }
    await rejectsWithCode(blobs.put(Readable.from([Buffer.from("x")]), { maxBytes: 10, expectedDigest: upper }), "validation_failed");
  });

  it("deletes and reports missing blobs", async () => {
    const blobs = await FileBlobStore.open(freshDir());
    const { digest } = await blobs.put(Readable.from([Buffer.from("private image")]), { maxBytes: 100 });
    const path = blobs.pathFor(digest);
    assert.equal(await blobs.delete(digest), true);
    assert.equal(existsSync(path), false);
    assert.equal(await blobs.has(digest), false);
    assert.equal(await blobs.delete(digest), false);
    await rejectsWithCode(blobs.openRead(digest), "blob_not_found");
  });

  it("removes stale temp files at open, not fresh ones", async () => {
    const dir = freshDir();
    await FileBlobStore.open(dir);
    const now = Date.UTC(2025, 0, 1);
    const stale = join(dir, "tmp", "stale.part");
    const fresh = join(dir, "tmp", "fresh.part");
    writeFileSync(stale, "half an upload");
    writeFileSync(fresh, "an upload in progress elsewhere");
    mkdirSync(join(dir, "tmp", "stale-dir"));
    utimesSync(stale, new Date(now - 2 * 3_600_000), new Date(now - 2 * 3_600_000));
    utimesSync(join(dir, "tmp", "stale-dir"), new Date(now - 2 * 3_600_000), new Date(now - 2 * 3_600_000));
    utimesSync(fresh, new Date(now - 60_000), new Date(now - 60_000));
    await FileBlobStore.open(dir, { now: () => now });
    assert.deepEqual(listFiles(dir), ["tmp/fresh.part"]);
  });
});
