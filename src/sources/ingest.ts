/**
 * A fetched artifact → the blob store: streamed, size-limited while streaming, hashed, compared
 * with the expected digest, and published only when everything held (the blob store's put writes
 * to a temp file and renames): a failed fetch stores nothing.
 */
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { PutResult } from "../store/blob-store.ts";
import type { SourceContext } from "./context.ts";

export interface IngestOptions {
  /** sha256:<hex> the bytes must hash to (a pin, a layer digest, an LFS oid). */
  expectedDigest?: string;
  /** Human name of the artifact for messages, e.g. "hf://org/repo/model.onnx@3f2a…". */
  what: string;
}

export async function ingestResponse(ctx: SourceContext, res: Response, o: IngestOptions): Promise<PutResult> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > ctx.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(ctx, o.what);
  }
  if (!res.body) throw new SslmemError("source_unreachable", `${o.what}: the source sent no body`);
  try {
    return await ctx.blobs.put(res.body as AsyncIterable<Uint8Array>, {
      maxBytes: ctx.maxBytes,
      ...(o.expectedDigest ? { expectedDigest: o.expectedDigest } : {}),
    });
  } catch (e) {
    if (isSslmemError(e) && e.code === "payload_too_large") throw tooLarge(ctx, o.what);
    if (isSslmemError(e) && e.code === "digest_mismatch") {
      throw new SslmemError("digest_mismatch", `${o.what}: the fetched bytes hash to ${String(e.details?.actual)}, not the expected ${o.expectedDigest}`, e.details);
    }
    if (isSslmemError(e)) throw e; // source_* from the guarded fetch (timeout, refused redirect)
    throw new SslmemError("source_unreachable", `${o.what}: the download broke off (${(e as Error).message})`, undefined, { cause: e });
  }
}

function tooLarge(ctx: SourceContext, what: string): SslmemError {
  return new SslmemError("source_too_large", `${what} is larger than this server's limit of ${ctx.maxBytes} bytes`, { maxBytes: ctx.maxBytes });
}

/** The blob's size when the store already holds it (nothing to download), else null. */
export async function alreadyStored(ctx: SourceContext, digest: string): Promise<PutResult | null> {
  const size = await ctx.blobs.size(digest);
  return size === null ? null : { digest, size };
}
