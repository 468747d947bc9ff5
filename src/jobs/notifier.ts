/**
 * Wakes SSE streams when the runner appends an event, so a client sees progress at once instead of
 * at the next poll. Only an optimisation: streams still re-read the store on a timer, which is what
 * makes them correct when another process (a scaled-mode worker) writes the events.
 */
export class AuditNotifier {
  readonly #waiters = new Map<string, Set<() => void>>();

  notify(auditId: string): void {
    const waiters = this.#waiters.get(auditId);
    if (!waiters) return;
    this.#waiters.delete(auditId);
    for (const wake of waiters) wake();
  }

  /** Resolves on the next notify(auditId), after `timeoutMs`, or when `signal` aborts. */
  wait(auditId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let waiters = this.#waiters.get(auditId);
      if (!waiters) this.#waiters.set(auditId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.get(auditId)?.delete(done);
        if (this.#waiters.get(auditId)?.size === 0) this.#waiters.delete(auditId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Streams currently waiting (for tests and diagnostics). */
  waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }
}
