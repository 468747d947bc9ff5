/**
 * How audits get executed. The HTTP layer only submits, cancels and inspects through `JobRunner`;
 * the embedded mode runs audits in this process (in-process-runner.ts), the scaled mode on
 * workers behind a queue. What one audit *does* is the `AuditExecutor` (execute-audit.ts): the
 * runner owns the state machine around it.
 */
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { AuditKind } from "../core/audit-kind.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditProgress, AuditRecord, EventLog, JsonObject, LayerStore, MeasurementStore } from "../store/types.ts";
import type { UnitResultStore } from "../store/unit-result-types.ts";

export interface ThroughputSnapshot {
  /** Points measured since the process started (all audits). */
  pointsScoredTotal: number;
  /** Augmented views encoded per second over the recent window (0 when idle). */
  viewsPerSecond: number;
}

export interface JobRunner {
  /** Resumes what the store says is running or queued (FIFO by creation), then starts working. */
  start(): Promise<void>;
  /** Queues an audit that is `queued` in the store. Refused (`unavailable`) after stop(). */
  enqueue(auditId: string): Promise<void>;
  /**
   * Cancels a queued or running audit. Resolves once it is `cancelled` or, for a running audit
   * whose executor has not yet noticed the abort, after a short wait (it is cancelled soon after).
   * false when the audit is not queued or running.
   */
  cancel(auditId: string): Promise<boolean>;
  /** Audits waiting to run (the running one excluded). */
  queueDepth(): number;
  /** Whether the runner is started, not stopped, and its work loop has not died. */
  isAlive(): boolean;
  /** Points and views measured, for /metrics. */
  throughput(): ThroughputSnapshot;
  /** The kinds of audit this runner executes; absent: every kind. Submission refuses the others. */
  readonly kinds?: readonly AuditKind[];
  /** Scaled mode: the queue's jobs by state (waiting, active…), for autoscaling; absent in process. */
  jobCounts?(): Record<string, number> | undefined;
  /**
   * Graceful shutdown: take no more work, abort the running audit and wait up to `graceMs` for it
   * to stop. The audit is put back in the queue (or left `running` if it does not stop in time):
   * the next start() resumes it either way; it is never lost.
   */
  stop(opts: { graceMs: number }): Promise<void>;
}

export interface ExecutionContext {
  /** Aborted on cancel and on shutdown; the executor stops between batches. */
  signal: AbortSignal;
  /** Records progress (stored and sent as an SSE `progress` event). ETA is filled in when absent. */
  progress(p: AuditProgress): Promise<void>;
  /** Appends an audit event (SSE) of the executor's own, e.g. `provider` or `batch`. */
  event(type: string, data: JsonObject): Promise<void>;
  /** Counts work done, for the points-scored and views/s metrics. Call once per batch. */
  scored(work: { points: number; views: number }): void;
}

export interface AuditExecution {
  summary: JsonObject;
  /** The v1 report (everything but the per-point rows, which live in the store). */
  report: JsonObject;
}

export interface AuditExecutor {
  /**
   * Runs one audit to completion: measures points (appending results idempotently: a resumed
   * audit may recompute a batch), finalizes flags, and returns the summary and report.
   * Throws SslmemError for failures a user can act on; anything else is reported as
   * `engine_failure` with the details only in the log.
   */
  execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution>;
  /** Releases what the executor holds (engine thread, sessions) at process shutdown. */
  close?(): Promise<void>;
}

/**
 * What the engine reads and writes in the store: result rows, the audit's LayerMem layers, a
 * UnitMem audit's per-unit rows, and the audit's events (its `sources` event names where
 * referenced inputs came from, for the report).
 */
export type EngineStore = MeasurementStore & Pick<LayerStore, "recordLayers"> & Pick<EventLog, "readEvents"> & Pick<UnitResultStore, "appendUnitResults">;

/** What an executor is built from, once the stores are open (server.ts, `sslmem worker`). */
export interface ExecutorDeps {
  config: Config;
  store: EngineStore;
  blobs: BlobReader;
  logger: Logger;
}
