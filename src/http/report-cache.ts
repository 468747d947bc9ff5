/**
 * Rendered reports, made once per audit and format and then served from memory. Rendering reads
 * every result row, and the HTML report re-opens the candidate set for thumbnails (a 100 000-member
 * zip cost 87 s of CPU, a .tar.gz expanded again for every request): per request, a tenant could
 * keep the server busy and its disk full. Here concurrent requests for one report share one
 * render, at most `maxConcurrentRenders` different reports render at once (beyond: 429
 * `rate_limited` with Retry-After), and finished renders are kept (LRU) up to `maxBytes`.
 *
 * The key holds the audit's purge stamp: once retention purges the candidates, a report with
 * their thumbnails is not served again. A deleted audit's entry is unreachable (the tenant lookup
 * answers 404 first) and ages out.
 */
import type { RenderedReport } from "./report-render.ts";

export interface ReportCacheLimits {
  maxBytes: number;
  maxConcurrentRenders: number;
  /** The error for a request that finds every render slot taken (the app makes it a 429). */
  busy: () => Error;
}

export class RenderedReportCache {
  readonly #limits: ReportCacheLimits;
  readonly #done = new Map<string, { report: RenderedReport; bytes: number }>();
  readonly #rendering = new Map<string, Promise<RenderedReport>>();
  #bytes = 0;
  /** Renders run so far (tests check a report is rendered once). */
  renders = 0;

  constructor(limits: ReportCacheLimits) {
    this.#limits = limits;
  }

  static key(audit: { id: string; inputsPurgedAt: string | null }, format: string): string {
    return `${audit.id}|${format}|${audit.inputsPurgedAt ?? ""}`;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async get(key: string, render: () => Promise<RenderedReport>): Promise<RenderedReport> {
    const hit = this.#done.get(key);
    if (hit) {
      this.#done.delete(key); // re-inserted: most recently used last
      this.#done.set(key, hit);
      return hit.report;
    }
    const inFlight = this.#rendering.get(key);
    if (inFlight) return inFlight;
    if (this.#rendering.size >= this.#limits.maxConcurrentRenders) {
      throw this.#limits.busy();
    }
    this.renders++;
    const rendering = render().finally(() => this.#rendering.delete(key));
    this.#rendering.set(key, rendering);
    const report = await rendering;
    this.#keep(key, report);
    return report;
  }

  #keep(key: string, report: RenderedReport): void {
    const bytes = Buffer.byteLength(report.body) + 256;
    if (bytes > this.#limits.maxBytes) return;
    this.#done.set(key, { report, bytes });
    this.#bytes += bytes;
    for (const [k, v] of this.#done) {
      if (this.#bytes <= this.#limits.maxBytes) break;
      this.#done.delete(k);
      this.#bytes -= v.bytes;
    }
  }
}
