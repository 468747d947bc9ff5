/**
 * Waiting for Redis at startup. ioredis reconnects forever by design (right once running: a Redis
 * restart must not kill the workers), so a process whose Redis is wrong would hang silently at
 * start; this turns "not ready within the timeout" into an error that names the address.
 */
import type { Redis } from "ioredis";
import { SslmemError } from "../core/errors.ts";
import { orTimeout } from "../process/deadline.ts";

/** The URL without its credentials, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}`;
  } catch {
    return "(unparsable URL)";
  }
}

export async function connectOrFail(connections: readonly Redis[], url: string, timeoutMs: number): Promise<void> {
  let lastError = "";
  for (const c of connections) {
    // Also keeps ioredis from printing "Unhandled error event" on every reconnect attempt.
    c.on("error", (err: Error) => (lastError = (err as NodeJS.ErrnoException).code ?? err.message));
  }
  const ready = (c: Redis) =>
    c.status === "ready" ? Promise.resolve() : new Promise<void>((resolve) => c.once("ready", () => resolve()));
  await orTimeout(Promise.all(connections.map(ready)), timeoutMs, () => {
    const why = lastError ? ` (${lastError})` : "";
    return new SslmemError("unavailable", `cannot reach the queue's Redis at ${redactRedisUrl(url)} within ${Math.round(timeoutMs / 1000)} s${why}; check SSLMEM_QUEUE`);
  });
}
