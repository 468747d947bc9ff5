/**
 * A request body as an async iterable of chunks, read as it arrives (never buffered whole), with
 * an idle timeout: a client that stops sending for `idleTimeoutMs` gets 408 instead of holding a
 * file handle and an upload slot forever (slow-loris).
 */
import type { MiddlewareHandler } from "hono";
import { SslmemError } from "../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { orTimeout } from "../process/deadline.ts";
import { HttpProblemError } from "./problem-response.ts";

export async function* bodyChunks(request: Request, idleTimeoutMs: number): AsyncGenerator<Uint8Array> {
  if (!request.body) return;
  const reader = request.body.getReader();
  let finished = false;
  try {
    for (;;) {
      const stalled = () =>
        new HttpProblemError("request_timeout", `the request body stalled: no data for ${idleTimeoutMs} ms`, { Connection: "close" });
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await orTimeout(reader.read(), idleTimeoutMs, stalled);
      } catch (err) {
        if (err instanceof SslmemError) throw err;
        // The client went away mid-body (node-server aborts the request stream).
        throw new SslmemError("validation_failed", "the request body ended early: the connection was closed");
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // Stopping early (limit, mismatch, timeout): tell the source we want no more bytes.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * Reads a JSON body (the validator parses it whole) under two limits, both while it streams:
 * SSLMEM_MAX_JSON_BYTES (413 at the first byte over, whatever Content-Length claimed) and
 * SSLMEM_BODY_TIMEOUT_MS between chunks (408), so a client cannot hold a connection open by
 * trickling a small JSON body.
 */
export function jsonBodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(c.req.header("content-type") ?? "")) return next();
    const { maxJsonBytes: maxSize, bodyTimeoutMs } = c.var.services.config.limits;
    const tooLarge = () =>
      new HttpProblemError("payload_too_large", `the JSON body is larger than ${maxSize} bytes`, { Connection: "close" }, { maxBytes: maxSize });
    const declared = c.req.header("content-length");
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxSize) throw tooLarge();
    if (!c.req.raw.body) return next();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of bodyChunks(c.req.raw, bodyTimeoutMs)) {
      size += chunk.byteLength;
      if (size > maxSize) throw tooLarge();
      chunks.push(chunk);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
