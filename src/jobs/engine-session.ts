/**
 * One engine child process (engine-host.ts) seen as a session that runs jobs under the engine's
 * budgets — the one implementation of them, used by the embedded runner (worker-executor.ts: a
 * whole audit per job) and by the scaled mode's worker (engine-shard-executor.ts: a plan, a
 * shard or a merge per job). ONNX Runtime runs a session synchronously and cannot be
 * interrupted, so a cancel, a deadline, a shutdown or a memory ceiling ends the process with
 * SIGKILL while the service lives on. Store writes, blob lookups, progress and logs stay in the
 * service; the engine asks for them by message.
 *
 * A session runs one job at a time and keeps its engine process (with its encoder sessions and,
 * when asked, the audit's open workspace) across jobs; the process exits after `idleMs` without
 * work, so an idle service holds no model memory. Budgets of a running job:
 * - the audit's deadline (`auditTimeoutMs`, or `deadlineAt` for a step of a sharded audit) →
 *   `audit_timeout`;
 * - `pointTimeoutMs`: each batch, per point of the batch (the first batch also loads the
 *   models) → `audit_timeout`;
 * - `memoryBytes`: resident size of the engine process, and a JS-heap limit → `resource_exhausted`.
 * A cancel or shutdown asks the engine to stop between batches and kills it after `abortGraceMs`.
 */
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { SslmemError } from "../core/errors.ts";
import type { BlobReader } from "../store/blob-store.ts";
import { AUDIT_INPUT_ROLES, type AuditRecord, type StoredResult } from "../store/types.ts";
import { parseStoredConfig } from "./audit-workspace.ts";
import { parseStoredUnitMemConfig } from "./execute-unitmem.ts";
import { EngineProcess, type EngineExit, type EngineProcessLimits } from "./engine-host.ts";
import {
  deserializeError,
  invokeEngineCall,
  serializeError,
  type EngineCallHandlers,
  type EngineCallMessage,
  type EngineOp,
  type EngineOpResult,
  type EngineWorkerSettings,
  type EngineWorkspaceOptions,
  type FromWorker,
} from "./engine-worker-protocol.ts";
import type { EngineStore, ExecutionContext } from "./types.ts";

export interface EngineBudgets extends EngineProcessLimits {
  auditTimeoutMs: number;
  pointTimeoutMs: number;
  /** After a cancel or shutdown, how long the engine may take to stop before it is killed. */
  abortGraceMs: number;
  /** An engine process without work exits after this long (its sessions go with it). */
  idleMs: number;
}

export const DEFAULT_ENGINE_BUDGETS: EngineBudgets = Object.freeze({
  memoryBytes: 8 * 2 ** 30,
  heapMiB: 2048,
  watchIntervalMs: 250,
  auditTimeoutMs: 24 * 3_600_000,
  pointTimeoutMs: 120_000,
  abortGraceMs: 2_000,
  idleMs: 60_000,
});

/** The budgets of Config's `limits` (SSLMEM_AUDIT_TIMEOUT_MS…): the same for `serve` and `worker`. */
export function engineBudgetsFromConfig(config: Pick<Config, "limits">): Partial<EngineBudgets> {
  const { limits } = config;
  return {
    memoryBytes: limits.engineMemoryBytes,
    heapMiB: limits.engineHeapMiB,
    auditTimeoutMs: limits.auditTimeoutMs,
    pointTimeoutMs: limits.pointTimeoutMs,
    idleMs: limits.engineIdleMs,
  };
}

/** What every host of an engine process (embedded runner, scaled worker) gives it. */
export interface EngineHostDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: Logger;
  settings: EngineWorkerSettings;
  budgets?: Partial<EngineBudgets>;
  /** Keep an audit's workspace open in the engine between jobs (a worker's consecutive shards). */
  workspaces?: EngineWorkspaceOptions;
}

export interface EngineSessionDeps extends EngineHostDeps {
  /**
   * What a SIGKILL nobody here sent means. `resource_exhausted` (embedded): on Linux it is the
   * kernel's OOM killer. `engine_failure` (a shard worker): a transient crash, retried — an
   * operator's `kill -9` looks the same, and a real OOM kill fails again on every attempt.
   */
  systemKill: "resource_exhausted" | "engine_failure";
}

export interface EngineJobOptions {
  /** When the audit's time is up (epoch ms); default: `auditTimeoutMs` from now. */
  deadlineAt?: number;
}

interface ActiveJob {
  id: number;
  /** The engine process running it (a later job may run on another). */
  engine: EngineProcess;
  log: Logger;
  ctx: ExecutionContext;
  handlers: EngineCallHandlers;
  iterations: Map<number, AsyncIterator<StoredResult>>;
  /** Why the service is ending this job, once it is (the error the job settles with). */
  stopping?: Error;
  /** Restarts the per-batch deadline (the job began, or a batch was scored). */
  batchDone(): void;
  /** Stops the per-batch deadline (the audit finalizes: no more batches). */
  finalizing(): void;
  settle(outcome: { ok: true; value: EngineOpResult } | { ok: false; error: unknown }): void;
}

export class EngineSession {
  readonly #deps: EngineSessionDeps;
  readonly #budgets: EngineBudgets;
  #engine: EngineProcess | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #job: ActiveJob | undefined;
  #nextJob = 1;
  #nextIteration = 1;
  #lastAuditId: string | undefined;

  constructor(deps: EngineSessionDeps) {
    this.#deps = deps;
    this.#budgets = { ...DEFAULT_ENGINE_BUDGETS, ...deps.budgets };
  }

  get budgets(): Readonly<EngineBudgets> {
    return this.#budgets;
  }

  /** The engine process's id while one runs (tests read its /proc entries). */
  get enginePid(): number | undefined {
    return this.#engine?.alive ? this.#engine.pid : undefined;
  }

  get busy(): boolean {
    return this.#job !== undefined;
  }

  /** The audit of the last job, while its engine lives (its workspace may still be open there). */
  get warmAuditId(): string | undefined {
    return this.#engine?.alive ? this.#lastAuditId : undefined;
  }

  /** Runs one job on the engine process (started when none runs) under the budgets. */
  async run(op: EngineOp, audit: AuditRecord, ctx: ExecutionContext, options: EngineJobOptions = {}): Promise<EngineOpResult> {
    if (this.#job) throw new SslmemError("internal", "the engine runs one job at a time");
    ctx.signal.throwIfAborted();
    const budgets = this.#budgets;
    const auditMs = (options.deadlineAt ?? Date.now() + budgets.auditTimeoutMs) - Date.now();
    const overdue = () => new SslmemError("audit_timeout", `the audit ran longer than its limit of ${Math.round(budgets.auditTimeoutMs / 1000)} s`);
    if (auditMs <= 0) throw overdue();
    const paths: Record<string, string> = {};
    for (const role of AUDIT_INPUT_ROLES) {
      const digest = audit.inputs[role];
      if (digest !== undefined) paths[digest] = this.#deps.blobs.pathFor(digest);
    }
    clearTimeout(this.#idleTimer);
    const engine = this.#ensureEngine();
    const id = this.#nextJob++;
    this.#lastAuditId = audit.id;
    const batchPoints = batchSizeOf(audit);
    return new Promise<EngineOpResult>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      let batchTimer: NodeJS.Timeout | undefined;
      const stop = (error: Error, kill: boolean) => {
        if (job.stopping) return;
        job.stopping = error;
        if (kill) engine.kill(error instanceof SslmemError && error.code === "audit_timeout" ? "deadline" : "abort");
        else {
          engine.send({ type: "abort", job: id, reason: serializeError(error) });
          timers.push(setTimeout(() => engine.kill("abort"), budgets.abortGraceMs));
        }
      };
      const armBatchDeadline = () => {
        clearTimeout(batchTimer);
        const ms = budgets.pointTimeoutMs * batchPoints;
        batchTimer = setTimeout(
          () => stop(new SslmemError("audit_timeout", `a batch of ${batchPoints} points took longer than ${ms} ms (${budgets.pointTimeoutMs} ms per point); use a smaller model or input size`), true),
          ms,
        );
      };
      const onAbort = () => stop(ctx.signal.reason instanceof Error ? ctx.signal.reason : new SslmemError("cancelled", "the audit was cancelled"), false);
      const job: ActiveJob = {
        id,
        engine,
        ctx,
        log: this.#deps.logger.child({ auditId: audit.id }),
        handlers: this.#handlers(audit, ctx, () => job),
        iterations: new Map(),
        batchDone: armBatchDeadline,
        finalizing: () => clearTimeout(batchTimer),
        settle: (outcome) => {
          if (this.#job !== job) return;
          this.#job = undefined;
          for (const t of timers) clearTimeout(t);
          clearTimeout(batchTimer);
          ctx.signal.removeEventListener("abort", onAbort);
          for (const it of job.iterations.values()) void it.return?.();
          job.iterations.clear();
          // A stopped job may leave an ONNX Runtime run going on the engine's own threads (the
          // binding runs sessions off its event loop, so the engine can answer while ORT spins):
          // the process goes with the job.
          if (job.stopping) engine.kill("abort");
          else this.#scheduleIdleExit();
          if (outcome.ok && !job.stopping) resolve(outcome.value);
          else reject(job.stopping ?? (outcome.ok ? new SslmemError("internal", "unreachable") : outcome.error));
        },
      };
      this.#job = job;
      timers.push(setTimeout(() => stop(overdue(), true), auditMs));
      // The per-batch clock starts when the engine begins the job (`started`), not at its spawn.
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      engine.send({ type: "run", job: id, op, audit, settings: this.#deps.settings, paths, ...(this.#deps.workspaces ? { workspaces: this.#deps.workspaces } : {}) });
    });
  }

  /** The audit ended: its workspace, if the engine keeps one open, is closed. */
  forget(auditId: string): void {
    if (this.#engine?.alive) this.#engine.send({ type: "forget", auditId });
  }

  /** Ends the engine process (its sessions go with it); a job still running fails (`unavailable`). */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const engine = this.#engine;
    if (!engine) return;
    this.#job?.settle({ ok: false, error: new SslmemError("unavailable", "the engine was stopped") });
    engine.kill("shutdown");
    await engine.exited;
  }

  #scheduleIdleExit(): void {
    clearTimeout(this.#idleTimer);
    const engine = this.#engine;
    if (!engine) return;
    this.#idleTimer = setTimeout(() => {
      if (!this.#job && this.#engine === engine) engine.kill("idle");
    }, this.#budgets.idleMs);
    this.#idleTimer.unref();
  }

  #ensureEngine(): EngineProcess {
    if (this.#engine?.alive) return this.#engine;
    const engine: EngineProcess = new EngineProcess(this.#budgets, this.#deps.logger, (m) => this.#onMessage(engine, m));
    this.#engine = engine;
    void engine.exited.then((exit) => this.#lost(engine, exit));
    return engine;
  }

  /** The engine process ended: the job it was running settles with what ended it. */
  #lost(engine: EngineProcess, exit: EngineExit): void {
    if (this.#engine === engine) this.#engine = undefined;
    const job = this.#job;
    if (job?.engine !== engine) return;
    if (exit.kind === "killed") {
      if (exit.reason === "memory") {
        job.stopping ??= new SslmemError(
          "resource_exhausted",
          `the audit needed more memory than this server allows an engine (${Math.round(this.#budgets.memoryBytes / 2 ** 20)} MiB); use a smaller model, input size or batch size`,
        );
      }
      job.settle({ ok: false, error: job.stopping ?? new SslmemError("unavailable", "the engine was stopped") });
    } else if (exit.kind === "out_of_memory" && (exit.by === "heap" || this.#deps.systemKill === "resource_exhausted")) {
      job.log.warn({ detail: exit.detail }, "engine process ran out of memory");
      job.settle({ ok: false, error: new SslmemError("resource_exhausted", "the audit ran out of memory in the engine; use a smaller model, input size or batch size") });
    } else if (exit.kind === "out_of_memory") {
      job.log.warn({ detail: exit.detail }, "engine process killed by SIGKILL from outside (the kernel's OOM killer or an operator)");
      job.settle({ ok: false, error: new SslmemError("engine_failure", "the engine process was killed by SIGKILL from outside") });
    } else {
      job.settle({ ok: false, error: new SslmemError("engine_failure", exit.detail) });
    }
  }

  #onMessage(engine: EngineProcess, m: FromWorker): void {
    // Messages of an engine that no longer runs the current job reach no audit (calls are refused).
    const job = this.#job?.engine === engine ? this.#job : undefined;
    switch (m.type) {
      case "log":
        relayLog(job?.log ?? this.#deps.logger, m.record);
        return;
      case "started":
        if (job?.id === m.job) job.batchDone();
        return;
      case "scored":
        if (job?.id === m.job) {
          job.ctx.scored(m.work);
          job.batchDone();
        }
        return;
      case "done":
        if (job?.id === m.job) job.settle(m.ok ? { ok: true, value: m.result } : { ok: false, error: deserializeError(m.error) });
        return;
      case "call":
        this.#answer(engine, job, m);
    }
  }

  #answer(engine: EngineProcess, job: ActiveJob | undefined, m: EngineCallMessage): void {
    if (job?.id !== m.job || job.stopping) {
      engine.send({ type: "reply", call: m.call, ok: false, error: serializeError(new SslmemError("cancelled", "the audit is no longer running")) });
      return;
    }
    invokeEngineCall(job.handlers, m.method, m.args).then(
      (value) => engine.send({ type: "reply", call: m.call, ok: true, value }),
      (err: unknown) => engine.send({ type: "reply", call: m.call, ok: false, error: serializeError(err) }),
    );
  }

  /** The engine's calls, limited to the audit it is running and the inputs of that audit. */
  #handlers(audit: AuditRecord, ctx: ExecutionContext, job: () => ActiveJob): EngineCallHandlers {
    const { store, blobs } = this.#deps;
    const own = (auditId: string) => {
      if (auditId !== audit.id) throw new SslmemError("internal", "the engine asked about another audit");
      return auditId;
    };
    return {
      committedIndices: (auditId, range) => store.committedIndices(own(auditId), range),
      readEvents: (auditId, afterSeq, limit) => store.readEvents(own(auditId), afterSeq, Math.max(1, Math.min(10_000, Math.floor(limit) || 1000))),
      countResults: (auditId) => store.countResults(own(auditId)),
      appendResults: (auditId, rows) => store.appendResults(own(auditId), rows),
      recordLayers: (auditId, layers) => store.recordLayers(own(auditId), layers),
      finalizeResults: (auditId, updates) => store.finalizeResults(own(auditId), updates),
      appendUnitResults: (auditId, rows) => store.appendUnitResults(own(auditId), rows),
      iterateOpen: (auditId, options) => {
        const id = this.#nextIteration++;
        job().iterations.set(id, store.iterateResults(own(auditId), { layers: options.layers === true })[Symbol.asyncIterator]());
        return id;
      },
      iterateNext: async (iteration, max) => {
        const iterations = job().iterations;
        const it = iterations.get(iteration);
        if (!it) throw new SslmemError("internal", "unknown result iteration");
        const rows: StoredResult[] = [];
        const limit = Math.max(1, Math.min(10_000, Math.floor(max) || 1000));
        while (rows.length < limit) {
          const step = await it.next();
          if (step.done) {
            iterations.delete(iteration);
            return { rows, done: true };
          }
          rows.push(step.value);
        }
        return { rows, done: false };
      },
      blobHas: (digest) => {
        if (!Object.values(audit.inputs).includes(digest)) throw new SslmemError("internal", "the engine asked about another blob");
        return blobs.has(digest);
      },
      progress: (p) => {
        if (p.stage === "loading") job().batchDone();
        if (p.stage === "finalizing") job().finalizing();
        return ctx.progress(p);
      },
      event: (type, data) => ctx.event(type, data),
    };
  }
}

/** The audit's batch size (for the per-batch deadline); 1 when the stored config is unreadable (the engine refuses it). */
function batchSizeOf(audit: AuditRecord): number {
  try {
    return audit.kind === "unitmem" ? parseStoredUnitMemConfig(audit).batchSize : parseStoredConfig(audit).batchSize;
  } catch {
    return 1;
  }
}

const LEVELS = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" } as const;

/** Re-logs one JSON record of the engine's pino logger on the service's logger. */
function relayLog(log: Logger, record: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    return;
  }
  if (parsed === null || typeof parsed !== "object") return;
  const { level, msg, ...fields } = parsed as Record<string, unknown>;
  const name = LEVELS[Number(level) as keyof typeof LEVELS] ?? "info";
  log[name](fields, typeof msg === "string" ? msg : undefined);
}
