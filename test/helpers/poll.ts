/**
 * The one poll loop of the tests: calls `check` every `everyMs` until it returns something other
 * than undefined, null or false, and returns that; fails naming `what` after `timeoutMs`. For
 * waiting on another process or on the store, where no event says "now".
 */
export interface PollOptions {
  /** What is awaited, for the failure message. */
  what: string;
  everyMs?: number;
  timeoutMs?: number;
}

export async function pollUntil<T>(check: () => T | Promise<T>, options: PollOptions): Promise<Exclude<T, undefined | null | false>> {
  const everyMs = options.everyMs ?? 5;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
