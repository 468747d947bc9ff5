/**
 * The scaled-mode job runner of the API process: audits go to a BullMQ queue on Redis and run on
 * `sslmem worker` processes (shard-worker.ts). This side only adds the plan job, cancels, and
 * reports queue depth; the workers drive the state machine (through their AuditService) in the
 * shared store, which is also where this process reads status, progress and events from.
 *
 * Queue depth (`queueDepth()`, the 429 `queue_full` guard and `sslmem_audit_queue_depth`) counts
 * audits, as in the embedded mode: those `queued` in the store, across every API replica. The
 * queue's own job counts (shards waiting and active: the work the workers have not finished) are
 * exported separately for autoscaling (`jobCounts()`, `sslmem_queue_jobs`).
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { AuditService } from "../audits/audit-service.ts";
import { SslmemError } from "../core/errors.ts";
import type { AuditReader } from "../store/types.ts";
import type { AuditNotifier } from "./notifier.ts";
import {
  JOB_NAMES,
  jobOptions,
  mergeJobId,
  parseSignal,
  planJobId,
  redisConnection,
  signalChannel,
  type PlanJobData,
  type QueueSettings,
  type QueueSignal,
} from "./queue-jobs.ts";
import { connectOrFail } from "./redis-ready.ts";
import type { JobRunner, ThroughputSnapshot } from "./types.ts";

export interface BullMqRunnerOptions {
  audits: AuditService;
  store: Pick<AuditReader, "listAuditsByState" | "countAuditsByState">;
  logger: Logger;
  settings: QueueSettings;
  /** Shared with the HTTP app: SSE streams wake when a worker signals a new event. */
  notifier?: Pick<AuditNotifier, "notify">;
  /** How often the queue depth and job counts are re-read (default 1 s). */
  refreshMs?: number;
  /** How long start() waits for Redis before failing (default 10 s). */
  connectTimeoutMs?: number;
}

/** BullMQ job states counted for /metrics. */
export const COUNTED_JOB_STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "failed"] as const;
export type JobCounts = Record<(typeof COUNTED_JOB_STATES)[number], number>;

export class BullMqRunner implements JobRunner {
  /**
   * UnitMem is not run here: shards measure point ranges on different workers, and UnitMem needs
   * every point's per-unit means in one process (μ_−max is a median over all points). Submission
   * refuses it with a clear problem instead (audit-submission.ts).
   */
  readonly kinds = ["sslmem"] as const;
  readonly #audits: AuditService;
  readonly #store: Pick<AuditReader, "listAuditsByState" | "countAuditsByState">;
  readonly #logger: Logger;
  readonly #settings: QueueSettings;
  readonly #notifier: Pick<AuditNotifier, "notify"> | undefined;
  readonly #refreshMs: number;
  readonly #connectTimeoutMs: number;
  #connection: Redis | undefined;
  #subscriber: Redis | undefined;
  #queue: Queue | undefined;
  #state: "new" | "started" | "stopped" = "new";
  #queuedAudits = 0;
  #jobCounts: JobCounts | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BullMqRunnerOptions) {
    this.#audits = options.audits;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#settings = options.settings;
    this.#notifier = options.notifier;
    this.#refreshMs = options.refreshMs ?? 1_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new SslmemError("internal", "the job runner was already started");
    const s = this.#settings;
    this.#connection = redisConnection(s, "api");
    this.#subscriber = redisConnection(s, "api-signals");
    try {
      await connectOrFail([this.#connection, this.#subscriber], s.url, this.#connectTimeoutMs);
      this.#queue = new Queue(s.name, { connection: this.#connection, prefix: s.prefix, defaultJobOptions: jobOptions(s) });
      await this.#queue.waitUntilReady();
      this.#subscriber.on("message", (_channel: string, message: string) => this.#onSignal(parseSignal(message)));
      await this.#subscriber.subscribe(signalChannel(s));
      await this.#resume();
      await this.#refresh();
    } catch (err) {
      await this.#disconnect();
      throw err;
    }
    this.#timer = setInterval(() => void this.#refresh(), this.#refreshMs);
    this.#timer.unref();
    this.#state = "started";
    this.#logger.info({ queue: s.name, prefix: s.prefix, shardSize: s.shardSize }, "scaled mode: audits run on queue workers");
  }

  async enqueue(auditId: string): Promise<void> {
    if (this.#state !== "started" || !this.#queue) throw new SslmemError("unavailable", "the job runner is not accepting work");
    await this.#addPlan(auditId);
    this.#queuedAudits += 1; // counted until the next refresh re-reads the store
  }

  async cancel(auditId: string): Promise<boolean> {
    // Conditional transitions: whichever process (this one, another replica, a worker finishing)
    // moves the audit first wins, and only the winner appends the `state` event.
    if (await this.#audits.cancel(auditId, ["queued"])) {
      await this.#queue?.remove(planJobId(auditId)).catch(() => 0); // else the plan job finds it cancelled: a no-op
      return true;
    }
    if (await this.#audits.cancel(auditId, ["running"])) {
      await this.#publish({ kind: "cancel", auditId });
      return true;
    }
    return false;
  }

  queueDepth(): number {
    return this.#queuedAudits;
  }

  /** The queue's jobs by state, as last read (undefined before the first read succeeded). */
  jobCounts(): JobCounts | undefined {
    return this.#jobCounts;
  }

  isAlive(): boolean {
    return this.#state === "started" && this.#connection?.status === "ready";
  }

  throughput(): ThroughputSnapshot {
    // Points are measured by the workers (their own /metrics); the API process measures none.
    return { pointsScoredTotal: 0, viewsPerSecond: 0 };
  }

  async stop(_opts: { graceMs: number }): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    clearInterval(this.#timer);
    await this.#disconnect();
  }

  // ---------------------------------------------------------------------------------------------

  async #addPlan(auditId: string): Promise<void> {
    const data: PlanJobData = { auditId };
    await this.#queue!.add(JOB_NAMES.plan, data, { jobId: planJobId(auditId) });
  }

  /**
   * Queued audits get their plan job (again: the job id makes a duplicate a no-op). A running
   * audit whose plan and merge jobs are both gone (Redis lost its data) is planned again: its
   * committed rows are kept and its shards skip them.
   */
  async #resume(): Promise<void> {
    let resumed = 0;
    for (const audit of await this.#store.listAuditsByState(["queued"])) {
      await this.#addPlan(audit.id);
      resumed += 1;
    }
    for (const audit of await this.#store.listAuditsByState(["running"])) {
      const [plan, merge] = await Promise.all([this.#queue!.getJob(planJobId(audit.id)), this.#queue!.getJob(mergeJobId(audit.id))]);
      if (!plan && !merge) {
        await this.#addPlan(audit.id);
        resumed += 1;
        this.#logger.warn({ auditId: audit.id }, "running audit had no jobs in the queue; planned again");
      }
    }
    if (resumed > 0) this.#logger.info({ resumed }, "handed stored audits to the queue");
  }

  async #refresh(): Promise<void> {
    try {
      const [byState, counts] = await Promise.all([this.#store.countAuditsByState(), this.#queue!.getJobCounts(...COUNTED_JOB_STATES)]);
      this.#queuedAudits = byState.queued;
      this.#jobCounts = Object.fromEntries(COUNTED_JOB_STATES.map((k) => [k, counts[k] ?? 0])) as JobCounts;
    } catch (err) {
      this.#logger.warn({ err }, "could not read the queue depth");
    }
  }

  #onSignal(signal: QueueSignal | undefined): void {
    if (signal?.kind === "event") this.#notifier?.notify(signal.auditId);
  }

  async #publish(signal: QueueSignal): Promise<void> {
    try {
      await this.#connection!.publish(signalChannel(this.#settings), JSON.stringify(signal));
    } catch (err) {
      // Workers also see the cancelled state at their next batch; the signal only makes it immediate.
      this.#logger.warn({ err, auditId: signal.auditId }, "could not signal the workers");
    }
  }

  async #disconnect(): Promise<void> {
    await this.#queue?.close().catch(() => undefined);
    for (const c of [this.#subscriber, this.#connection]) c?.disconnect();
  }
}
