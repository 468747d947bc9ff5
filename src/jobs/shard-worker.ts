/**
 * The worker side of the scaled mode: a BullMQ Worker that runs the plan, shard and merge jobs of
 * queue-jobs.ts with the engine's steps (execute-audit.ts), and drives the audit's state through
 * its AuditService in the shared store, so the API's status, SSE and /metrics see every worker.
 *
 * Faults, and what happens:
 * - a worker dies mid-shard: its job lock expires, another worker's stalled check puts the shard
 *   back in the queue and someone re-runs it; rows are upserts and committed indices are skipped,
 *   so nothing is duplicated and the scores are the same;
 * - a transient error (store or Redis hiccup, engine crash): the job is retried with exponential
 *   backoff; after the last attempt the audit fails with `engine_failure`;
 * - a user/model error (a 4xx code: corrupt image, model the engine refuses, and the engine's
 *   budgets — `audit_timeout`, `resource_exhausted`, see engine-shard-executor.ts): the audit fails at
 *   once with that problem and the job is not retried (UnrecoverableError); the merge job fails
 *   with its child, and shards still waiting find the audit failed and do nothing;
 * - cancel: the API marks the audit cancelled and publishes a signal; running jobs abort at once
 *   (or at their next batch, when the store says the audit no longer runs), the rest are no-ops;
 * - SIGTERM: close() lets each running shard finish its current batch, then puts the job back in
 *   the queue for another worker (no attempt is used up).
 */
import { FlowProducer, QueueEvents, UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { AuditService, type AuditServiceStore } from "../audits/audit-service.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { settledWithin } from "../process/deadline.ts";
import type { AuditReader, AuditRecord, MeasurementStore } from "../store/types.ts";
import type { AuditPlan, PointRange } from "./execute-audit.ts";
import {
  JOB_NAMES,
  auditIdOfJob,
  jobOptions,
  mergeJobId,
  parseSignal,
  redisConnection,
  shardJobId,
  signalChannel,
  type MergeJobData,
  type QueueJobData,
  type QueueSettings,
  type QueueSignal,
  type ShardJobData,
} from "./queue-jobs.ts";
import { connectOrFail } from "./redis-ready.ts";
import { shardRanges } from "./shard-plan.ts";
import { ThroughputMeter } from "./throughput.ts";
import type { AuditExecution, ExecutionContext, ThroughputSnapshot } from "./types.ts";

/**
 * The engine steps a worker runs: in child processes under the engine's budgets
 * (EngineShardExecutor, the default) or inline (EngineExecutor, SSLMEM_ENGINE_THREAD=main).
 */
export interface ShardExecutor {
  planAudit(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditPlan>;
  measureShard(audit: AuditRecord, range: PointRange, ctx: ExecutionContext): Promise<{ measured: number }>;
  mergeAudit(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution>;
  /** The audit ended: drop what is cached for it. */
  forget?(auditId: string): Promise<void>;
  close?(): Promise<void>;
}

/** The worker reads audits and counts rows; it writes audit state only through its AuditService. */
export type ShardWorkerStore = AuditServiceStore & Pick<AuditReader, "getAuditInternal"> & Pick<MeasurementStore, "countResults">;

export interface ShardWorkerOptions {
  store: ShardWorkerStore;
  executor: ShardExecutor;
  logger: Logger;
  settings: QueueSettings;
  /** Jobs run at once (default 1: one device). */
  concurrency?: number;
  /** Shown in BullMQ's job records and logs. */
  name?: string;
  connectTimeoutMs?: number;
}

export interface ActiveJob {
  jobId: string;
  kind: string;
  auditId: string;
  shard?: number;
  since: number;
}

export interface ShardWorkerStats {
  jobsCompleted: Record<"plan" | "shard" | "merge", number>;
  /** Jobs that ended in an error (retried or not). */
  jobsFailed: number;
  throughput: ThroughputSnapshot;
  active: ActiveJob[];
}

type JobResult = { skipped: string } | { shards: number } | { measured: number } | { state: string };

interface Running extends ActiveJob {
  controller: AbortController;
}

/** Thrown after a batch when the worker is shutting down: the job goes back to the queue. */
class Interrupted extends Error {
  constructor() {
    super("the worker is shutting down");
    this.name = "Interrupted";
  }
}

export class ShardWorker {
  readonly #store: ShardWorkerStore;
  readonly #executor: ShardExecutor;
  readonly #logger: Logger;
  readonly #settings: QueueSettings;
  readonly #concurrency: number;
  readonly #name: string;
  readonly #connectTimeoutMs: number;
  readonly #audits: AuditService;
  readonly #meter = new ThroughputMeter();
  readonly #running = new Map<string, Running>();
  readonly #completed = { plan: 0, shard: 0, merge: 0 };
  #failed = 0;
  #connections: Redis[] = [];
  #publisher: Redis | undefined;
  #worker: Worker | undefined;
  #flow: FlowProducer | undefined;
  #events: QueueEvents | undefined;
  #state: "new" | "started" | "draining" | "stopped" = "new";

  constructor(options: ShardWorkerOptions) {
    this.#store = options.store;
    this.#executor = options.executor;
    this.#logger = options.logger;
    this.#settings = options.settings;
    this.#concurrency = options.concurrency ?? 1;
    this.#name = options.name ?? `sslmem-worker-${process.pid}`;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    // Every event this worker appends is announced on Redis: the API's SSE streams wake at once.
    this.#audits = new AuditService({ store: this.#store, logger: this.#logger, onEvent: (id) => this.#publish({ kind: "event", auditId: id }) });
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new SslmemError("internal", "the worker was already started");
    const s = this.#settings;
    const [workerConn, flowConn, publisher, subscriber, eventsConn] = ["jobs", "flow", "publish", "signals", "events"].map((n) =>
      redisConnection(s, `worker-${n}`),
    );
    this.#connections = [workerConn, flowConn, publisher, subscriber, eventsConn];
    this.#publisher = publisher;
    try {
      await connectOrFail(this.#connections, s.url, this.#connectTimeoutMs);
      subscriber.on("message", (_channel: string, message: string) => this.#onSignal(parseSignal(message)));
      await subscriber.subscribe(signalChannel(s));
      this.#flow = new FlowProducer({ connection: flowConn, prefix: s.prefix });
      // A job that fails without its processor throwing (it stalled more often than allowed: its
      // workers kept dying) is only visible as a queue event; it must still end the audit.
      this.#events = new QueueEvents(s.name, { connection: eventsConn, prefix: s.prefix });
      this.#events.on("failed", ({ jobId, failedReason }) => void this.#onJobFailed(jobId, failedReason));
      await this.#events.waitUntilReady();
      this.#worker = new Worker<QueueJobData, JobResult>(s.name, (job, token) => this.#process(job, token), {
        connection: workerConn,
        prefix: s.prefix,
        concurrency: this.#concurrency,
        name: this.#name,
        lockDuration: s.lockMs,
        stalledInterval: s.stalledIntervalMs,
        maxStalledCount: s.maxStalledCount,
        autorun: false,
      });
      this.#worker.on("error", (err) => this.#logger.warn({ err }, "queue worker error"));
      this.#worker.on("failed", () => (this.#failed += 1));
      void this.#worker.run().catch((err: unknown) => this.#logger.error({ err }, "queue worker loop ended"));
      await this.#worker.waitUntilReady();
    } catch (err) {
      await this.#disconnect();
      throw err;
    }
    this.#state = "started";
    this.#logger.info({ queue: s.name, prefix: s.prefix, concurrency: this.#concurrency, name: this.#name }, "worker taking jobs");
  }

  /** Connected, taking jobs, not shutting down. */
  isReady(): boolean {
    return this.#state === "started" && this.#worker?.isRunning() === true && this.#connections.every((c) => c.status === "ready");
  }

  isAlive(): boolean {
    return this.#state === "started" || this.#state === "draining";
  }

  stats(): ShardWorkerStats {
    return {
      jobsCompleted: { ...this.#completed },
      jobsFailed: this.#failed,
      throughput: this.#meter.snapshot(),
      active: [...this.#running.values()].map(({ controller: _c, ...job }) => job),
    };
  }

  /**
   * Graceful stop: take no new job; running shards finish their current batch and go back to the
   * queue (another worker resumes them from the committed rows). After `graceMs` the jobs still
   * running are abandoned: their locks expire and the stalled check re-queues them.
   */
  async close(opts: { graceMs: number }): Promise<void> {
    if (this.#state === "stopped" || this.#state === "new") {
      this.#state = "stopped";
      return;
    }
    this.#state = "draining";
    if (!(await settledWithin(this.#worker?.close(), opts.graceMs))) {
      this.#logger.warn({ active: this.#running.size }, "jobs did not stop within the grace period; they are retried once their lock expires");
      for (const r of this.#running.values()) r.controller.abort(new SslmemError("unavailable", "the worker is shutting down"));
      await this.#worker?.close(true).catch(() => undefined);
    }
    await this.#disconnect();
    await this.#executor.close?.();
    this.#state = "stopped";
  }

  // --- jobs ------------------------------------------------------------------------------------

  async #process(job: Job<QueueJobData, JobResult>, token: string | undefined): Promise<JobResult> {
    const data = job.data;
    const running: Running = {
      jobId: job.id ?? "",
      kind: job.name,
      auditId: data.auditId,
      ...(job.name === JOB_NAMES.shard ? { shard: (data as ShardJobData).shard } : {}),
      since: Date.now(),
      controller: new AbortController(),
    };
    this.#running.set(running.jobId, running);
    const log = this.#logger.child({ auditId: data.auditId, job: running.jobId });
    try {
      let result: JobResult;
      if (job.name === JOB_NAMES.plan) result = await this.#plan(data.auditId, running, log);
      else if (job.name === JOB_NAMES.shard) result = await this.#shard(data as ShardJobData, running);
      else if (job.name === JOB_NAMES.merge) result = await this.#merge(data as MergeJobData, running, log);
      else throw new UnrecoverableError(`unknown job '${job.name}'`);
      const completed = this.#completed;
      if (Object.hasOwn(completed, job.name)) completed[job.name as keyof typeof completed] += 1;
      return result;
    } catch (err) {
      return await this.#onError(job, token, err, running, log);
    } finally {
      this.#running.delete(running.jobId);
    }
  }

  async #plan(auditId: string, running: Running, log: Logger): Promise<JobResult> {
    let audit = await this.#store.getAuditInternal(auditId);
    if (audit?.state === "queued") {
      const started = await this.#audits.start(auditId);
      if (started) log.info({ attempt: started.attempt }, "audit started");
      audit = started ?? (await this.#store.getAuditInternal(auditId));
    }
    // Running already: this plan job was retried after its worker died; planning again is safe.
    if (!audit || audit.state !== "running") return { skipped: audit?.state ?? "deleted" };
    const progress = this.#audits.progressReporter(auditId, { from: "audit", startedAt: audit.startedAt });
    await progress({ stage: "loading", done: 0, total: 0 });
    const plan = await this.#executor.planAudit(audit, this.#context(audit, running));
    running.controller.signal.throwIfAborted();
    await this.#audits.event(auditId, "engine", { provider: plan.provider, candidates: plan.candidates, controls: plan.controls, skipped: plan.skipped });
    const ranges = shardRanges(plan.total, this.#settings.shardSize);
    const s = this.#settings;
    const merge: MergeJobData = { auditId, shards: ranges.length, total: plan.total };
    await this.#flow!.add({
      name: JOB_NAMES.merge,
      queueName: s.name,
      data: merge,
      opts: { jobId: mergeJobId(auditId), ...jobOptions(s) },
      children: ranges.map((r) => ({
        name: JOB_NAMES.shard,
        queueName: s.name,
        data: { auditId, shard: r.shard, from: r.from, to: r.to } satisfies ShardJobData,
        // A child that fails for good fails the merge too: nothing waits forever.
        opts: { jobId: shardJobId(auditId, r.shard), ...jobOptions(s), failParentOnFailure: true },
      })),
    });
    await this.#audits.event(auditId, "plan", { shards: ranges.length, points: plan.total, shardSize: s.shardSize });
    await progress({ stage: "measuring", done: await this.#store.countResults(auditId), total: plan.total });
    log.info({ shards: ranges.length, points: plan.total }, "audit planned");
    return { shards: ranges.length };
  }

  async #shard(data: ShardJobData, running: Running): Promise<JobResult> {
    const audit = await this.#store.getAuditInternal(data.auditId);
    if (!audit || audit.state !== "running") return { skipped: audit?.state ?? "deleted" };
    const { measured } = await this.#executor.measureShard(audit, { from: data.from, to: data.to }, this.#context(audit, running));
    return { measured };
  }

  async #merge(data: MergeJobData, running: Running, log: Logger): Promise<JobResult> {
    const audit = await this.#store.getAuditInternal(data.auditId);
    if (!audit || audit.state !== "running") return { skipped: audit?.state ?? "deleted" };
    const outcome = await this.#executor.mergeAudit(audit, this.#context(audit, running));
    // Conditional: a cancel that won the race is not overwritten by the finished work.
    const done = await this.#audits.succeed(audit.id, outcome);
    if (done) log.info("audit succeeded");
    await this.#executor.forget?.(audit.id);
    return { state: done ? "succeeded" : "not running" };
  }

  #context(audit: AuditRecord, running: Running): ExecutionContext {
    const report = this.#audits.progressReporter(audit.id, { from: "audit", startedAt: audit.startedAt });
    return {
      signal: running.controller.signal,
      progress: async (p) => {
        // Progress is refused once the audit is not running: the cheap per-batch check that
        // stops a shard whose audit was cancelled or failed, even if the signal was missed.
        if (!(await report(p))) {
          running.controller.abort(new SslmemError("cancelled", "the audit is no longer running"));
        }
        if (this.#state === "draining") {
          // The signal too: an engine in a child process sees the stop there, not this throw.
          const interrupted = new Interrupted();
          running.controller.abort(interrupted);
          throw interrupted;
        }
      },
      event: (type, data) => this.#audits.event(audit.id, type, data),
      scored: (work) => this.#meter.record(work),
    };
  }

  /**
   * Decides what a job's error means: a moot job (audit ended) completes as a no-op; shutdown puts
   * it back in the queue; a user error fails the audit once and is not retried; a transient one is
   * retried, failing the audit only after the last attempt.
   */
  async #onError(job: Job<QueueJobData, JobResult>, token: string | undefined, err: unknown, running: Running, log: Logger): Promise<JobResult> {
    if (err instanceof Interrupted) {
      await job.moveToWait(token);
      log.info("job returned to the queue at shutdown");
      throw new WaitingError();
    }
    const auditId = running.auditId;
    let audit: AuditRecord | null;
    try {
      audit = await this.#store.getAuditInternal(auditId);
    } catch {
      throw err; // the store itself is failing: a transient error, retried
    }
    if (!audit || audit.state !== "running") {
      await this.#executor.forget?.(auditId);
      return { skipped: audit?.state ?? "deleted" };
    }
    if (isSslmemError(err) && err.status < 500) {
      if (await this.#audits.fail(auditId, err)) await this.#executor.forget?.(auditId);
      throw new UnrecoverableError(`${err.code}: ${err.message}`);
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 >= attempts) {
      log.error({ err, attempts }, "job failed on its last attempt");
      await this.#audits.fail(auditId, err);
      await this.#executor.forget?.(auditId);
    } else {
      log.warn({ err, attempt: job.attemptsMade + 1, attempts }, "job failed; it will be retried");
    }
    throw err;
  }

  async #onJobFailed(jobId: string, reason: string): Promise<void> {
    const auditId = auditIdOfJob(jobId);
    if (!auditId) return;
    try {
      // A no-op when the processor already failed the audit (the usual case).
      const failed = await this.#audits.fail(auditId, new SslmemError("engine_failure", `job ${jobId} failed: ${reason}`));
      if (failed) this.#logger.error({ auditId, jobId, reason }, "a job of the audit failed for good");
    } catch (err) {
      this.#logger.warn({ err, auditId, jobId }, "could not record a failed job");
    }
  }

  #onSignal(signal: QueueSignal | undefined): void {
    if (signal?.kind !== "cancel") return;
    for (const r of this.#running.values()) {
      if (r.auditId === signal.auditId) r.controller.abort(new SslmemError("cancelled", "the audit was cancelled"));
    }
  }

  #publish(signal: QueueSignal): void {
    this.#publisher?.publish(signalChannel(this.#settings), JSON.stringify(signal)).catch(() => undefined);
  }

  async #disconnect(): Promise<void> {
    await Promise.all([this.#worker?.close(true), this.#flow?.close(), this.#events?.close()].map((p) => p?.catch(() => undefined)));
    for (const c of this.#connections) c.disconnect();
  }
}
