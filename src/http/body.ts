/**
 * A request body as an async iterable of chunks, read as it arrives (never buffered whole), with
 * an idle timeout: a client that stops sending for `idleTimeoutMs` gets 408 instead of holding a
 * file handle and an upload slot forever (slow-loris).
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SslmemError } from "../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { HttpProblemError } from "./problem-response.ts";

export async function* bodyChunks(request: Request, idleTimeoutMs: number): AsyncGenerator<Uint8Array> {
  if (!request.body) return;
  const reader = request.body.getReader();
  let finished = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new HttpProblemError("request_timeout", `the request body stalled: no data for ${idleTimeoutMs} ms`, {
                Connection: "close",
              }),
            ),
          idleTimeoutMs,
        );
      });
      let step: Awaited<ReturnType<typeof reader.read>>;
      try {
        step = await Promise.race([reader.read(), stalled]);
      } catch (err) {
        if (err instanceof SslmemError) throw err;
        // The client went away mid-body (node-server aborts the request stream).
        throw new SslmemError("validation_failed", "the request body ended early: the connection was closed");
      } finally {
        clearTimeout(timer);
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

/** Caps a JSON body (read whole by the validator) at SSLMEM_MAX_JSON_BYTES, while it streams. */
export function jsonBodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(c.req.header("content-type") ?? "")) return next();
    const maxSize = c.var.services.config.limits.maxJsonBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new HttpProblemError("payload_too_large", `the JSON body is larger than ${maxSize} bytes`, { Connection: "close" }, { maxBytes: maxSize });
      },
    })(c, next);
  };
}
