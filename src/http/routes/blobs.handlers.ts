/** Blob upload and download. Ownership (who may use a blob) is recorded only after re-hashing. */
import { Readable } from "node:stream";
import type { RouteHandler } from "@hono/zod-openapi";
import { SslmemError, isSslmemError } from "../../core/errors.ts";
import { bodyChunks } from "../body.ts";
import type { AppEnv, AppServices } from "../context.ts";
import { HttpProblemError } from "../problem-response.ts";
import type { getBlob, putBlob } from "./blobs.routes.ts";
import { blobQuotaExceeded, remainingBlobQuota } from "../tenant-quota.ts";

export function blobPath(digest: string): string {
  return `/v1/blobs/${digest}`;
}

/** Refuses a declared Content-Length over the limit before reading a byte of the body. */
export function checkDeclaredLength(header: string | undefined, maxBytes: number): void {
  if (header === undefined || !/^\d+$/.test(header)) return;
  if (Number(header) > maxBytes) {
    throw new HttpProblemError(
      "payload_too_large",
      `the body is ${header} bytes; the limit is ${maxBytes} bytes`,
      { Connection: "close" },
      { maxBytes },
    );
  }
}

export function acquireUploadSlot({ uploads, config }: AppServices, tenant: string): () => void {
  const release = uploads.tryAcquire(tenant);
  if (!release) {
    throw new HttpProblemError(
      "rate_limited",
      `at most ${config.limits.maxConcurrentUploadsPerTenant} uploads per tenant may run at once; retry when one has finished`,
      { "Retry-After": "1" },
    );
  }
  return release;
}

export const put: RouteHandler<typeof putBlob, AppEnv> = async (c) => {
  const { digest } = c.req.valid("param");
  const { store, blobs, config } = c.var.services;
  const tenant = c.var.tenant;
  checkDeclaredLength(c.req.header("content-length"), config.limits.maxBlobBytes);
  const release = acquireUploadSlot(c.var.services, tenant);
  try {
    const hadIt = (await store.tenantHasBlob(tenant, digest)) && (await blobs.has(digest));
    // The tenant's storage quota caps this upload too (a blob it already owns costs nothing more).
    const quotaLeft = hadIt ? Infinity : await remainingBlobQuota(c.var.services, tenant);
    // Always re-hash, even when the bytes are already here: ownership is proof of possession,
    // never granted for knowing a digest.
    const stored = await blobs
      .put(bodyChunks(c.req.raw, config.limits.bodyTimeoutMs), {
        expectedDigest: digest,
        maxBytes: Math.min(config.limits.maxBlobBytes, quotaLeft),
      })
      .catch((e: unknown) => {
        if (isSslmemError(e) && e.code === "payload_too_large" && quotaLeft < config.limits.maxBlobBytes) throw blobQuotaExceeded(config.limits.tenantStorageBytes);
        throw e;
      });
    await store.recordBlob({ digest: stored.digest, size: stored.size, tenant });
    return c.json({ digest: stored.digest, size: stored.size }, hadIt ? 200 : 201, { Location: blobPath(digest) });
  } finally {
    release();
  }
};

export const get: RouteHandler<typeof getBlob, AppEnv> = async (c) => {
  const { digest } = c.req.valid("param");
  const { store, blobs } = c.var.services;
  const size = (await store.tenantHasBlob(c.var.tenant, digest)) ? await blobs.size(digest) : null;
  if (size === null) throw new SslmemError("not_found", `you have no blob ${digest}`);
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": String(size), ETag: `"${digest}"` };
  if (c.req.method === "HEAD") return c.body(null, 200, headers);
  const stream = Readable.toWeb(await blobs.openRead(digest)) as ReadableStream<Uint8Array>;
  return c.body(stream, 200, headers);
};
