/**
 * A .tar.gz is decompressed once, streaming, into a private temporary file, which is then read by
 * position like a plain tar. Memory stays at a few stream buffers; disk use is bounded by
 * maxExpandedBytes; and the expansion ratio is checked *while* decompressing (against the
 * compressed bytes consumed so far), so a gzip bomb stops after at most ratioGraceBytes + a chunk
 * instead of filling the disk. (Indexing the gzip stream in place would need zran-style
 * checkpoints of the inflate window; the temporary file is simpler and random access is free.)
 */
import { createReadStream, createWriteStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { IngestLimits } from "./limits.ts";

export async function gunzipToFile(srcPath: string, dstPath: string, limits: IngestLimits): Promise<number> {
  const input = createReadStream(srcPath);
  let expanded = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      expanded += chunk.length;
      if (expanded > limits.maxExpandedBytes) {
        done(
          new SslmemError(
            "archive_too_large",
            `the archive expands to more than ${limits.maxExpandedBytes} bytes (maxExpandedBytes)`,
            { limit: limits.maxExpandedBytes },
          ),
        );
        return;
      }
      // bytesRead runs ahead of what gunzip consumed, which only makes the check more lenient.
      if (expanded > limits.ratioGraceBytes && expanded > limits.maxExpansionRatio * Math.max(input.bytesRead, 1)) {
        done(
          new SslmemError(
            "archive_too_large",
            `the archive expands more than ${limits.maxExpansionRatio}× its compressed size (maxExpansionRatio); it looks like a decompression bomb`,
            { limit: limits.maxExpansionRatio },
          ),
        );
        return;
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(input, createGunzip(), guard, createWriteStream(dstPath, { flags: "wx", mode: 0o600 }));
  } catch (e) {
    if (isSslmemError(e)) throw e;
    // zlib's messages ("incorrect header check", "unexpected end of file") name no path; keep as cause.
    throw new SslmemError("archive_invalid", "the gzip data is corrupt or truncated", undefined, { cause: e });
  }
  return expanded;
}
