/**
 * Content-addressed blob storage (models, candidate archives). A blob is named by the SHA-256 of
 * its bytes, so uploads are idempotent and a client can skip what the server already has.
 * Who may use a blob is recorded in the Store (recordBlob / tenantHasBlob), not here.
 *
 * FileBlobStore layout: `<dir>/sha256/ab/cdef…` (the first two hex characters fan out the
 * directories); uploads in progress live in `<dir>/tmp/` on the same filesystem, so publishing is
 * an atomic rename: a blob is either complete under its digest or absent, never partial.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { open, rename, stat, unlink, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { SslmemError } from "../core/errors.ts";
import { assertDigest } from "./validate.ts";

export interface PutOptions {
  /** When given, the upload is refused (`digest_mismatch`) unless the bytes hash to it. */
  expectedDigest?: string;
  /** Enforced while streaming: the upload stops at the first byte over (`payload_too_large`). */
  maxBytes: number;
}

export interface PutResult {
  digest: string;
  size: number;
}

/** What reading an audit's inputs needs: is the blob there, and the file holding it. */
export interface BlobReader {
  has(digest: string): Promise<boolean>;
  /**
   * A local file path holding the blob, for readers that need a file (ONNX Runtime, tar/zip).
   * A remote implementation would materialize a cached copy here.
   */
  pathFor(digest: string): string;
}

export interface BlobStore extends BlobReader {
  /** Size in bytes, or null when absent. */
  size(digest: string): Promise<number | null>;
  put(source: Readable | AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult>;
  /** Throws `blob_not_found` when absent. */
  openRead(digest: string): Promise<Readable>;
  /** true when something was deleted. */
  delete(digest: string): Promise<boolean>;
}

export interface FileBlobStoreOptions {
  /**
   * Temp files older than this are removed at open (default 1 hour). Not all of them: in scaled
   * mode several processes share the directory and another one may be uploading right now.
   */
  staleTempAfterMs?: number;
  now?: () => number;
}

const HEX = "sha256:".length;

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

export class FileBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tmp: string;

  private constructor(dir: string) {
    this.#root = join(dir, "sha256");
    this.#tmp = join(dir, "tmp");
  }

  static async open(dir: string, options: FileBlobStoreOptions = {}): Promise<FileBlobStore> {
    const store = new FileBlobStore(dir);
    mkdirSync(store.#root, { recursive: true });
    mkdirSync(store.#tmp, { recursive: true });
    const cutoff = (options.now ?? Date.now)() - (options.staleTempAfterMs ?? 3_600_000);
    for (const name of readdirSync(store.#tmp)) {
      const p = join(store.#tmp, name);
      try {
        if (statSync(p).mtimeMs <= cutoff) rmSync(p, { force: true, recursive: true });
      } catch (e) {
        if (!isNotFound(e)) throw e; // removed concurrently by another process
      }
    }
    return store;
  }

  pathFor(digest: string): string {
    assertDigest(digest);
    const hex = digest.slice(HEX);
    return join(this.#root, hex.slice(0, 2), hex.slice(2));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== null;
  }

  async size(digest: string): Promise<number | null> {
    try {
      const s = await stat(this.pathFor(digest));
      return s.isFile() ? s.size : null;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async openRead(digest: string): Promise<Readable> {
    const path = this.pathFor(digest);
    // Open first so a missing blob is a clean error rather than a stream that errors later.
    const handle = await open(path, "r").catch((e: unknown) => {
      if (isNotFound(e)) throw new SslmemError("blob_not_found", `blob ${digest} does not exist`, { digest });
      throw e;
    });
    return handle.createReadStream();
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await unlink(this.pathFor(digest));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async put(source: Readable | AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult> {
    if (options.expectedDigest !== undefined) assertDigest(options.expectedDigest, "expected digest");
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new SslmemError("internal", "maxBytes must be a non-negative integer");
    }
    const tmpPath = join(this.#tmp, `${Date.now().toString(36)}-${randomBytes(8).toString("hex")}.part`);
    const file = await open(tmpPath, "wx");
    let closed = false;
    let published = false;
    try {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        size += bytes.byteLength;
        if (size > options.maxBytes) {
          // Leaving the loop destroys a Readable source: nothing more is read from the client.
          throw new SslmemError("payload_too_large", `the upload is larger than the limit of ${options.maxBytes} bytes`, {
            maxBytes: options.maxBytes,
          });
        }
        hash.update(bytes);
        await file.write(bytes);
      }
      const digest = `sha256:${hash.digest("hex")}`;
      if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
        throw new SslmemError("digest_mismatch", `the uploaded bytes hash to ${digest}, not ${options.expectedDigest}`, {
          expected: options.expectedDigest,
          actual: digest,
        });
      }
      await file.sync();
      await file.close();
      closed = true;
      const finalPath = this.pathFor(digest);
      if (await this.has(digest)) return { digest, size }; // idempotent: the same bytes are already there
      const dir = join(finalPath, "..");
      await mkdir(dir, { recursive: true });
      await rename(tmpPath, finalPath);
      published = true;
      await syncDirectory(dir); // make the rename itself durable
      return { digest, size };
    } finally {
      if (!closed) await file.close().catch(() => undefined);
      if (!published) await unlink(tmpPath).catch(() => undefined);
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function openFileBlobStore(dir: string, options?: FileBlobStoreOptions): Promise<FileBlobStore> {
  return FileBlobStore.open(dir, options);
}
