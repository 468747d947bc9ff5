/**
 * Response bodies produced on demand from an async iterable (results downloads, SSE): pull-based,
 * so a slow client slows the producer instead of filling memory, and a disconnect aborts it.
 */
import type { Logger } from "pino";

/**
 * A byte stream over `produce(signal)`. `signal` aborts when the client goes away. An error after
 * the headers were sent cannot become a problem response: it is logged and the stream is cut, so
 * the client sees a truncated transfer instead of a silently short file. The error given to the
 * stream is generic because the HTTP adapter may echo it into the body.
 */
export function streamOf(
  produce: (signal: AbortSignal) => AsyncIterable<string>,
  logger: Logger,
  logContext: Record<string, unknown>,
): ReadableStream<Uint8Array> {
  const abort = new AbortController();
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<string> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        iterator ??= produce(abort.signal)[Symbol.asyncIterator]();
        try {
          const step = await iterator.next();
          if (step.done) controller.close();
          else controller.enqueue(encoder.encode(step.value));
        } catch (err) {
          logger.error({ ...logContext, err }, "response stream failed after the headers were sent");
          controller.error(new Error("response stream aborted"));
        }
      },
      async cancel() {
        abort.abort();
        await iterator?.return?.();
      },
    },
    { highWaterMark: 1 },
  );
}

/** Groups small strings into chunks of about `size` characters (fewer, larger writes). */
export async function* batched(source: AsyncIterable<string>, size = 64 * 1024): AsyncGenerator<string> {
  let buf = "";
  for await (const s of source) {
    buf += s;
    if (buf.length >= size) {
      yield buf;
      buf = "";
    }
  }
  if (buf.length > 0) yield buf;
}
