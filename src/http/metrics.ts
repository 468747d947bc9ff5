/**
 * Prometheus metrics, written out by hand (the text format is small and stable; no dependency).
 * Request latency is a histogram labelled by method, route *pattern* (never the raw path, which
 * holds ids and would explode cardinality) and status.
 */
import type { AuditState } from "../core/audit-states.ts";
import type { ThroughputSnapshot } from "../jobs/types.ts";
import type { EventLoopLag } from "./event-loop.ts";

export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

interface Series {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

export class HttpMetrics {
  readonly #series = new Map<string, Series>();

  observe(labels: { method: string; route: string; status: number }, seconds: number): void {
    const l = { method: labels.method, route: labels.route, status: String(labels.status) };
    const key = `${l.method} ${l.route} ${l.status}`;
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels: l, buckets: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 }));
    LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
      if (seconds <= le) s.buckets[i] += 1;
    });
    s.sum += seconds;
    s.count += 1;
  }

  series(): readonly Series[] {
    return [...this.#series.values()];
  }
}

export interface MetricsSnapshot {
  http: HttpMetrics;
  auditsByState: Record<AuditState, number>;
  throughput: ThroughputSnapshot;
  queueDepth: number;
  /** Scaled mode: BullMQ jobs by state (shards waiting and running: the autoscaling signal). */
  queueJobs?: Record<string, number>;
  eventLoopLag: EventLoopLag;
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

function header(lines: string[], name: string, type: string, help: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

export function renderPrometheus(m: MetricsSnapshot): string {
  const lines: string[] = [];
  header(lines, "sslmem_audits", "gauge", "Audits in the store by state.");
  for (const [state, n] of Object.entries(m.auditsByState)) lines.push(`sslmem_audits${labelText({ state })} ${n}`);

  header(lines, "sslmem_audit_queue_depth", "gauge", "Audits waiting for the runner of this process.");
  lines.push(`sslmem_audit_queue_depth ${m.queueDepth}`);

  if (m.queueJobs) {
    header(lines, "sslmem_queue_jobs", "gauge", "Jobs in the shared queue by state (scaled mode; same value on every API replica).");
    for (const [state, n] of Object.entries(m.queueJobs)) lines.push(`sslmem_queue_jobs${labelText({ state })} ${n}`);
  }

  header(lines, "sslmem_points_scored_total", "counter", "Points measured by this process since it started.");
  lines.push(`sslmem_points_scored_total ${m.throughput.pointsScoredTotal}`);

  header(lines, "sslmem_views_per_second", "gauge", "Augmented views encoded per second over the last 30 s.");
  lines.push(`sslmem_views_per_second ${num(m.throughput.viewsPerSecond)}`);

  header(lines, "sslmem_event_loop_lag_seconds", "gauge", "Event-loop lag over the last window.");
  lines.push(`sslmem_event_loop_lag_seconds${labelText({ quantile: "0.5" })} ${num(m.eventLoopLag.p50)}`);
  lines.push(`sslmem_event_loop_lag_seconds${labelText({ quantile: "0.99" })} ${num(m.eventLoopLag.p99)}`);
  lines.push(`sslmem_event_loop_lag_seconds${labelText({ quantile: "1" })} ${num(m.eventLoopLag.max)}`);

  const name = "sslmem_http_request_duration_seconds";
  header(lines, name, "histogram", "HTTP request latency until the response headers, by route pattern and status.");
  for (const s of m.http.series()) {
    LATENCY_BUCKETS_SECONDS.forEach((le, i) => lines.push(`${name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.buckets[i]}`));
    lines.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
    lines.push(`${name}_sum${labelText(s.labels)} ${num(s.sum)}`);
    lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
  }
  return lines.join("\n") + "\n";
}
