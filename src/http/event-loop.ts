/**
 * Event-loop lag, for /metrics and load shedding. The service runs inference in the same process,
 * so a lagging loop is the first sign that requests will time out: it is the signal to shed on.
 * The histogram is reset every `windowMs` so the numbers describe the recent past.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

export interface EventLoopLag {
  /** Seconds. */
  p50: number;
  p99: number;
  max: number;
}

/**
 * Where the app reads the lag from: the process's EventLoopMonitor in service, a source the test
 * sets in the load-shedding test (a lag is then a value, not a busy-waiting loop).
 */
export interface EventLoopLagSource {
  lag(): EventLoopLag;
}

export class EventLoopMonitor implements EventLoopLagSource {
  readonly #histogram: IntervalHistogram;
  readonly #resolutionNs: number;
  readonly #timer: NodeJS.Timeout;
  #last: EventLoopLag = { p50: 0, p99: 0, max: 0 };

  constructor(options: { resolutionMs?: number; windowMs?: number } = {}) {
    const resolutionMs = options.resolutionMs ?? 20;
    this.#resolutionNs = resolutionMs * 1e6;
    this.#histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.#roll(), options.windowMs ?? 10_000);
    this.#timer.unref();
  }

  /** Lag over the current window (or the last complete one when the current is still empty). */
  lag(): EventLoopLag {
    return this.#histogram.count > 0 ? this.#read() : this.#last;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #read(): EventLoopLag {
    // The histogram records the whole timer interval; the lag is what exceeds the resolution.
    const h = this.#histogram;
    const lag = (ns: number) => Math.max(0, ns - this.#resolutionNs) / 1e9;
    return { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max) };
  }

  #roll(): void {
    if (this.#histogram.count > 0) this.#last = this.#read();
    this.#histogram.reset();
  }
}
