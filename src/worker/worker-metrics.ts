/**
 * The Prometheus text of an `sslmem worker` process: jobs done by kind, points scored, views/s,
 * and what it is working on right now (one series per running job, at most `concurrency`).
 */
import type { ShardWorkerStats } from "../jobs/shard-worker.ts";

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
const num = (v: number) => (Number.isFinite(v) ? String(v) : "NaN");

function header(lines: string[], name: string, type: string, help: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

export function renderWorkerMetrics(stats: ShardWorkerStats, now: number = Date.now()): string {
  const lines: string[] = [];
  header(lines, "sslmem_worker_jobs_completed_total", "counter", "Queue jobs this worker completed, by kind (plan, shard, merge).");
  for (const [kind, n] of Object.entries(stats.jobsCompleted)) lines.push(`sslmem_worker_jobs_completed_total${labels({ kind })} ${n}`);

  header(lines, "sslmem_worker_jobs_failed_total", "counter", "Queue jobs of this worker that ended in an error (retried or not).");
  lines.push(`sslmem_worker_jobs_failed_total ${stats.jobsFailed}`);

  header(lines, "sslmem_points_scored_total", "counter", "Points measured by this process since it started.");
  lines.push(`sslmem_points_scored_total ${stats.throughput.pointsScoredTotal}`);

  header(lines, "sslmem_views_per_second", "gauge", "Augmented views encoded per second over the last 30 s.");
  lines.push(`sslmem_views_per_second ${num(stats.throughput.viewsPerSecond)}`);

  header(lines, "sslmem_worker_active_jobs", "gauge", "Jobs this worker is running now.");
  lines.push(`sslmem_worker_active_jobs ${stats.active.length}`);

  header(lines, "sslmem_worker_current_job_seconds", "gauge", "Seconds each running job has run, labelled by kind, audit and shard.");
  for (const job of stats.active) {
    const l = { kind: job.kind, audit: job.auditId, shard: job.shard === undefined ? "" : String(job.shard) };
    lines.push(`sslmem_worker_current_job_seconds${labels(l)} ${num(Math.max(0, (now - job.since) / 1000))}`);
  }
  return lines.join("\n") + "\n";
}
