/**
 * Points scored and views/s for /metrics. Views/s is measured over a sliding window of recent
 * batches rather than since start, so the gauge drops to 0 when the runner is idle.
 */
import type { ThroughputSnapshot } from "./types.ts";

export class ThroughputMeter {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #samples: { at: number; views: number }[] = [];
  #points = 0;

  constructor(options: { windowMs?: number; now?: () => number } = {}) {
    this.#windowMs = options.windowMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  record(work: { points: number; views: number }): void {
    if (!(work.points >= 0) || !(work.views >= 0)) return; // NaN or negative: ignore, never poison the counters
    this.#points += work.points;
    this.#samples.push({ at: this.#now(), views: work.views });
    this.#prune();
  }

  snapshot(): ThroughputSnapshot {
    this.#prune();
    const views = this.#samples.reduce((sum, s) => sum + s.views, 0);
    return { pointsScoredTotal: this.#points, viewsPerSecond: views / (this.#windowMs / 1000) };
  }

  #prune(): void {
    const cutoff = this.#now() - this.#windowMs;
    while (this.#samples.length > 0 && this.#samples[0].at <= cutoff) this.#samples.shift();
  }
}
