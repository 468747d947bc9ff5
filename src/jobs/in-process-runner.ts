/**
 * The embedded job runner: one audit at a time in this process (one device, one model pair in
 * memory), the rest waiting in round-robin order between tenants (FIFO within one). The queue's truth is the store — the in-memory list is
 * only the order of work — so a restart rebuilds it from `queued` and `running` rows and no
 * accepted audit is ever lost.
 *
 * The runner owns the state machine (queued → running → succeeded | failed | cancelled, and
 * running → queued at shutdown); the executor only measures. Every state change is also an SSE
 * `state` event, and the terminal one is the last event of an audit.
 */
import type { Logger } from "pino";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { auditFailureProblem } from "../http/problem.ts";
import type { AuditProgress, AuditState, JsonObject, Store } from "../store/types.ts";
import { estimateEtaSeconds } from "./eta.ts";
import { FairQueue } from "./fair-queue.ts";
import { AuditNotifier } from "./notifier.ts";
import { ThroughputMeter } from "./throughput.ts";
import type { AuditExecutor, ExecutionContext, JobRunner, ThroughputSnapshot } from "./types.ts";

export interface InProcessRunnerOptions {
  store: Store;
  executor: AuditExecutor;
  logger: Logger;
  /** Shared with the HTTP app so SSE streams wake on new events. */
  notifier?: AuditNotifier;
  now?: () => number;
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

/** Waits for `promise` at most `ms`; true when it settled in time. The timer is cleared either way. */
async function settledWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!promise) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class InProcessRunner implements JobRunner {
  readonly #store: Store;
  readonly #executor: AuditExecutor;
  readonly #logger: Logger;
  readonly #notifier: AuditNotifier;
  readonly #now: () => number;
  readonly #cancelWaitMs: number;
  readonly #meter: ThroughputMeter;
  /** Round-robin between tenants (fair-queue.ts). */
  readonly #queue = new FairQueue();
  #running: RunningAudit | undefined;
  #state: "new" | "started" | "stopping" | "stopped" = "new";
  #loop: Promise<void> | undefined;
  #loopDied = false;
  #wake: (() => void) | undefined;

  constructor(options: InProcessRunnerOptions) {
    this.#store = options.store;
    this.#executor = options.executor;
    this.#logger = options.logger;
    this.#notifier = options.notifier ?? new AuditNotifier();
    this.#now = options.now ?? Date.now;
    this.#cancelWaitMs = options.cancelWaitMs ?? 2_000;
    this.#meter = new ThroughputMeter({ now: this.#now });
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new SslmemError("internal", "the job runner was already started");
    // A `running` row at startup belongs to a process that died or was stopped: put it back in
    // the queue; its executor resumes from the results already committed.
    for (const audit of await this.#store.listAuditsByState(["running"])) {
      if (await this.#store.transition(audit.id, ["running"], "queued")) {
        await this.#stateEvent(audit.id, "queued", { reason: "resumed after a restart" });
        this.#logger.info({ auditId: audit.id, attempt: audit.attempt }, "audit re-queued after restart");
      }
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
    if (await this.#store.transition(auditId, ["queued"], "cancelled")) {
      await this.#stateEvent(auditId, "cancelled", {});
      return true;
    }
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
      if (!(await this.#store.transition(auditId, ["queued"], "running"))) return;
      const audit = await this.#store.getAuditInternal(auditId);
      if (!audit) return;
      await this.#stateEvent(auditId, "running", { attempt: audit.attempt });
      log.info({ attempt: audit.attempt }, "audit started");
      let outcome: Awaited<ReturnType<AuditExecutor["execute"]>>;
      try {
        running.controller.signal.throwIfAborted();
        outcome = await this.#executor.execute(audit, this.#context(auditId, running.controller.signal));
      } catch (err) {
        await this.#settleAbortedOrFailed(auditId, running.reason, err, log);
        return;
      }
      if (running.reason === "cancel") {
        // The user asked to cancel and was told so; the work that finished anyway is not published.
        await this.#finish(auditId, "cancelled", {}, {});
        return;
      }
      await this.#finish(auditId, "succeeded", { summary: outcome.summary, report: outcome.report }, { summary: outcome.summary });
      log.info("audit succeeded");
    } catch (err) {
      log.error({ err }, "job runner could not record the outcome of an audit");
    } finally {
      this.#running = undefined;
      settle();
    }
  }

  async #settleAbortedOrFailed(auditId: string, reason: StopReason | undefined, err: unknown, log: Logger): Promise<void> {
    if (reason === "cancel") {
      await this.#finish(auditId, "cancelled", {}, {});
      log.info("audit cancelled");
    } else if (reason === "shutdown") {
      if (await this.#store.transition(auditId, ["running"], "queued")) {
        await this.#stateEvent(auditId, "queued", { reason: "the service is restarting" });
      }
      log.info("audit checkpointed for shutdown; it resumes at the next start");
    } else {
      const problem = auditFailureProblem(err, auditId);
      // Only the code: a user error's message names the user's data (point ids are file names,
      // which can be private); the owner reads it in the audit's `error`.
      if (isSslmemError(err) && problem.status < 500) log.warn({ code: err.code }, "audit failed");
      else log.error({ err }, "audit failed in the engine");
      await this.#finish(auditId, "failed", { error: problem }, { error: problem });
    }
  }

  async #finish(
    auditId: string,
    state: AuditState,
    patch: { summary?: JsonObject; report?: JsonObject; error?: JsonObject },
    eventData: JsonObject,
  ): Promise<void> {
    if (await this.#store.transition(auditId, ["running"], state, patch)) await this.#stateEvent(auditId, state, eventData);
  }

  #context(auditId: string, signal: AbortSignal): ExecutionContext {
    let stage: { name: string; at: number; doneAtStart: number } | undefined;
    return {
      signal,
      progress: async (p: AuditProgress) => {
        const now = this.#now();
        if (stage?.name !== p.stage) stage = { name: p.stage, at: now, doneAtStart: p.done };
        const eta = p.etaSeconds ?? estimateEtaSeconds(p.done - stage.doneAtStart, p.total - stage.doneAtStart, now - stage.at);
        const progress: AuditProgress = { stage: p.stage, done: p.done, total: p.total, ...(eta !== undefined ? { etaSeconds: eta } : {}) };
        await this.#store.setProgress(auditId, progress);
        await this.#store.appendEvent(auditId, { type: "progress", data: { ...progress } });
        this.#notifier.notify(auditId);
      },
      event: async (type: string, data: JsonObject) => {
        await this.#store.appendEvent(auditId, { type, data });
        this.#notifier.notify(auditId);
      },
      scored: (work) => this.#meter.record(work),
    };
  }

  /** Appends a `state` event; a deleted audit (no row to attach it to) is not an error here. */
  async #stateEvent(auditId: string, state: AuditState, data: JsonObject): Promise<void> {
    try {
      await this.#store.appendEvent(auditId, { type: "state", data: { state, ...data } });
    } catch (err) {
      if (!(isSslmemError(err) && err.code === "not_found")) throw err;
    } finally {
      this.#notifier.notify(auditId);
    }
  }
}
