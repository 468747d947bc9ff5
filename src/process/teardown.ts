/**
 * One shutdown path per process: each resource is registered with its releaser right after it is
 * acquired, and shutdown runs the releasers in reverse order (the last acquired is released
 * first). A failing releaser is logged and the rest still run; running twice is running once.
 */

export interface TeardownLog {
  warn(fields: object, message: string): void;
}

export class Teardown {
  readonly #releasers: { name: string; release: () => Promise<void> | void }[] = [];
  #running: Promise<void> | undefined;

  /** Registers the releaser of a resource just acquired. */
  add(name: string, release: () => Promise<void> | void): void {
    if (this.#running) throw new Error(`cannot register '${name}': the process is shutting down`);
    this.#releasers.push({ name, release });
  }

  /** Runs every releaser, newest first; resolves when all have run. Idempotent. */
  run(log: TeardownLog): Promise<void> {
    this.#running ??= (async () => {
      for (const { name, release } of this.#releasers.reverse()) {
        try {
          await release();
        } catch (err) {
          log.warn({ err, step: name }, "shutdown step failed");
        }
      }
    })();
    return this.#running;
  }
}
