/**
 * The embedded job runner: one audit at a time in this process (one device, one model pair in
 * memory), the rest waiting in round-robin order between tenants (FIFO within one). The queue's truth is the store — the in-memory list is
 * only the order of work — so a restart rebuilds it from `queued` and `running` rows and no
 * accepted audit is ever lost.
 *
 * The runner decides when an audit moves (queued → running → succeeded | failed | cancelled, and
 * running → queued at shutdown); the AuditService makes each move and its SSE `state` event; the
 * executor only measures.
 */
import type { Logger } from "pino";
import type { AuditService } from "../audits/audit-service.ts";
import { SslmemError } from "../core/errors.ts";
import { settledWithin } from "../process/deadline.ts";
import type { AuditReader, JsonObject } from "../store/types.ts";
import { FairQueue } from "./fair-queue.ts";
import { ThroughputMeter } from "./throughput.ts";
import type { AuditExecutor, ExecutionContext, JobRunner, ThroughputSnapshot } from "./types.ts";

export interface InProcessRunnerOptions {
  audits: AuditService;
  store: Pick<AuditReader, "listAuditsByState" | "getAuditInternal">;
  executor: AuditExecutor;
  logger: Logger;
  now?: () => number;
  /** Process deaths while one audit ran after which it fails with `crash_loop` (default 2). */
  maxCrashes?: number;
  /** How long cancel() waits for a running executor to notice the abort (default 2 s). */
  cancelWaitMs?: number;
}

type StopReason = "cancel" | "shutdown";

interface RunningAudit {
  auditId: string;
  controller: AbortController;
  reason?: StopReason;
  settled: Promise<void>;
}

export class InProcessRunner implements JobRunner {
  readonly #audits: AuditService;
  readonly #store: Pick<AuditReader, "listAuditsByState" | "getAuditInternal">;
  readonly #executor: AuditExecutor;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #cancelWaitMs: number;
  readonly #maxCrashes: number;
  readonly #meter: ThroughputMeter;
  /** Round-robin between tenants (fair-queue.ts). */
  readonly #queue = new FairQueue();
  #running: RunningAudit | undefined;
  #state: "new" | "started" | "stopping" | "stopped" = "new";
  #loop: Promise<void> | undefined;
  #loopDied = false;
  #wake: (() => void) | undefined;

  constructor(options: InProcessRunnerOptions) {
    this.#audits = options.audits;
    this.#store = options.store;
    this.#executor = options.executor;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#cancelWaitMs = options.cancelWaitMs ?? 2_000;
    this.#maxCrashes = options.maxCrashes ?? 2;
    this.#meter = new ThroughputMeter({ now: this.#now });
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new SslmemError("internal", "the job runner was already started");
    // A `running` row at startup belongs to a process that died or was stopped: it resumes from
    // the results already committed, unless it has now been running at maxCrashes deaths.
    for (const audit of await this.#store.listAuditsByState(["running"])) {
      const outcome = await this.#audits.recoverInterrupted(audit, this.#maxCrashes);
      if (outcome === "requeued") this.#logger.info({ auditId: audit.id, attempt: audit.attempt, crashes: audit.crashes + 1 }, "audit re-queued after restart");
      if (outcome === "failed") this.#logger.warn({ auditId: audit.id, crashes: audit.crashes + 1 }, "audit failed: crash loop");
    }
    for (const audit of await this.#store.listAuditsByState(["queued"])) this.#queue.push(audit.id, audit.tenant);
    this.#state = "started";
    this.#loop = this.#work().catch((err: unknown) => {
      this.#loopDied = true;
      this.#logger.fatal({ err }, "job runner loop died");
    });
    if (this.#queue.length > 0) this.#logger.info({ queued: this.#queue.length }, "job runner resumed audits");
  }

  async enqueue(auditId: string): Promise<void> {
    if (this.#state !== "started") throw new SslmemError("unavailable", "the job runner is not accepting work");
    if (this.#queue.has(auditId) || this.#running?.auditId === auditId) return;
    const audit = await this.#store.getAuditInternal(auditId);
    if (!audit) return;
    this.#queue.push(auditId, audit.tenant);
    this.#wakeLoop();
  }

  async cancel(auditId: string): Promise<boolean> {
    this.#queue.remove(auditId);
    // Conditional on `queued`: if the loop just took it, this fails and the abort below applies.
    if (await this.#audits.cancel(auditId, ["queued"])) return true;
    const running = this.#running;
    if (running?.auditId !== auditId) return false;
    running.reason ??= "cancel";
    running.controller.abort(new SslmemError("cancelled", "the audit was cancelled"));
    await settledWithin(running.settled, this.#cancelWaitMs);
    return true;
  }

  queueDepth(): number {
    return this.#queue.length;
  }

  isAlive(): boolean {
    return this.#state === "started" && !this.#loopDied;
  }

  throughput(): ThroughputSnapshot {
    return this.#meter.snapshot();
  }

  async stop(opts: { graceMs: number }): Promise<void> {
    if (this.#state === "new" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    const deadline = this.#now() + opts.graceMs;
    this.#state = "stopping";
    this.#queue.clear(); // still `queued` in the store: the next start() picks them up
    this.#wakeLoop();
    const running = this.#running;
    if (running) {
      running.reason ??= "shutdown";
      running.controller.abort(new SslmemError("unavailable", "the service is shutting down"));
      if (!(await settledWithin(running.settled, opts.graceMs))) {
        this.#logger.warn(
          { auditId: running.auditId },
          "audit did not stop within the grace period; it stays running and resumes at the next start",
        );
      }
    }
    await settledWithin(this.#loop, deadline - this.#now());
    this.#state = "stopped";
  }

  // --- the work loop -------------------------------------------------------------------------

  #wakeLoop(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #work(): Promise<void> {
    while (this.#state === "started") {
      const auditId = this.#queue.shift();
      if (auditId === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      await this.#runOne(auditId);
    }
  }

  /** Runs one audit to a settled state. Never throws: a bookkeeping failure is logged. */
  async #runOne(auditId: string): Promise<void> {
    let settle!: () => void;
    const running: RunningAudit = {
      auditId,
      controller: new AbortController(),
      settled: new Promise<void>((resolve) => (settle = resolve)),
    };
    this.#running = running;
    const log = this.#logger.child({ auditId });
    try {
      // Conditional: an audit cancelled, failed or deleted while it waited is skipped.
      const audit = await this.#audits.start(auditId);
      if (!audit) return;
      log.info({ attempt: audit.attempt }, "audit started");
      let outcome: Awaited<ReturnType<AuditExecutor["execute"]>>;
      try {
        running.controller.signal.throwIfAborted();
        outcome = await this.#executor.execute(audit, this.#context(auditId, running.controller));
      } catch (err) {
        await this.#settleAbortedOrFailed(auditId, running.reason, err, log);
        return;
      }
      if (running.reason === "cancel") {
        // The user asked to cancel and was told so; the work that finished anyway is not published.
        await this.#audits.cancel(auditId, ["running"]);
        return;
      }
      if (await this.#audits.succeed(auditId, outcome)) log.info("audit succeeded");
    } catch (err) {
      log.error({ err }, "job runner could not record the outcome of an audit");
    } finally {
      this.#running = undefined;
      settle();
    }
  }

  async #settleAbortedOrFailed(auditId: string, reason: StopReason | undefined, err: unknown, log: Logger): Promise<void> {
    if (reason === "cancel") {
      await this.#audits.cancel(auditId, ["running"]);
      log.info("audit cancelled");
    } else if (reason === "shutdown") {
      await this.#audits.requeue(auditId, "the service is restarting");
      log.info("audit checkpointed for shutdown; it resumes at the next start");
    } else {
      await this.#audits.fail(auditId, err);
    }
  }

  #context(auditId: string, controller: AbortController): ExecutionContext {
    const report = this.#audits.progressReporter(auditId, { from: "stage" });
    return {
      signal: controller.signal,
      progress: async (p) => {
        // Refused once the audit is not running (moved by another process, or deleted): stop.
        if (!(await report(p))) controller.abort(new SslmemError("cancelled", "the audit is no longer running"));
      },
      event: (type: string, data: JsonObject) => this.#audits.event(auditId, type, data),
      scored: (work) => this.#meter.record(work),
    };
  }
}
