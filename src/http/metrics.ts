/**
 * Prometheus metrics, written out by hand (the text format is small and stable; no dependency).
 * Request latency is a histogram labelled by method, route *pattern* (never the raw path, which
 * holds ids and would explode cardinality) and status.
 */
import { createRequire } from "node:module";
import type { AuditState } from "../core/audit-states.ts";
import type { ThroughputSnapshot } from "../jobs/types.ts";
import type { EventLoopLag } from "./event-loop.ts";

export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Audits take seconds to hours: buckets from 1 s to a day. */
export const AUDIT_DURATION_BUCKETS_SECONDS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600] as const;

interface Series {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

/** A Prometheus histogram with one series per label set. */
export class Histogram {
  readonly #series = new Map<string, Series>();
  constructor(readonly bounds: readonly number[]) {}

  observe(labels: Record<string, string>, value: number): void {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = { labels: { ...labels }, buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    this.bounds.forEach((le, i) => {
      if (value <= le) s.buckets[i] += 1;
    });
    s.sum += value;
    s.count += 1;
  }

  series(): readonly Series[] {
    return [...this.#series.values()];
  }
}

/** HTTP request latency by method, route pattern and status. */
export class HttpMetrics {
  readonly histogram = new Histogram(LATENCY_BUCKETS_SECONDS);

  observe(labels: { method: string; route: string; status: number }, seconds: number): void {
    this.histogram.observe({ method: labels.method, route: labels.route, status: String(labels.status) }, seconds);
  }
}

/** How long audits took from submission to their final state, by outcome (fed by the AuditService's onFinished). */
export class AuditDurations {
  readonly histogram = new Histogram(AUDIT_DURATION_BUCKETS_SECONDS);

  observe(outcome: string, seconds: number): void {
    this.histogram.observe({ outcome }, seconds);
  }
}

export interface MetricsSnapshot {
  http: HttpMetrics;
  auditDurations: AuditDurations;
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

/** What is running, for dashboards that join on it (the Prometheus `_info` convention). */
export const BUILD_INFO: Readonly<Record<string, string>> = {
  version: (createRequire(import.meta.url)("../../package.json") as { version: string }).version,
  node: process.versions.node,
};

export function renderPrometheus(m: MetricsSnapshot): string {
  const lines: string[] = [];
  header(lines, "sslmem_build_info", "gauge", "Always 1; the labels say which sslmem and Node.js versions are running.");
  lines.push(`sslmem_build_info${labelText({ ...BUILD_INFO })} 1`);
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

  renderHistogram(lines, "sslmem_http_request_duration_seconds", "HTTP request latency until the response headers, by route pattern and status.", m.http.histogram);
  renderHistogram(
    lines,
    "sslmem_audit_duration_seconds",
    "Time from submission to the final state of the audits this process finished, by outcome (succeeded, failed, cancelled).",
    m.auditDurations.histogram,
  );
  return lines.join("\n") + "\n";
}

function renderHistogram(lines: string[], name: string, help: string, h: Histogram): void {
  header(lines, name, "histogram", help);
  for (const s of h.series()) {
    h.bounds.forEach((le, i) => lines.push(`${name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.buckets[i]}`));
    lines.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
    lines.push(`${name}_sum${labelText(s.labels)} ${num(s.sum)}`);
    lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
  }
}
