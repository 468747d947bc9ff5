/**
 * The engine's AuditExecutor with the measuring work in a child process (engine-worker.ts via
 * engine-host.ts), so that nothing a tenant's model does can stop the service: ONNX Runtime runs
 * a session synchronously and cannot be interrupted, so a cancel, a deadline, a shutdown or a
 * memory ceiling ends the process with SIGKILL while the API lives on. Store writes, blob
 * lookups, progress and logs stay in the service; the engine asks for them by message.
 *
 * One engine process serves one audit at a time (the runner's contract) and keeps its encoder
 * sessions across audits within the session cache's limits; it exits after `idleMs` without
 * work, so an idle service holds no model memory. Budgets of a running audit:
 * - `auditTimeoutMs`: the whole audit (loading, measuring, finalizing) → `audit_timeout`;
 * - `pointTimeoutMs`: each batch, per point of the batch (the first batch also loads the
 *   models) → `audit_timeout`;
 * - `memoryBytes`: resident size of the engine process, and a JS-heap limit → `resource_exhausted`.
 * A cancel or shutdown asks the engine to stop between batches and kills it after `abortGraceMs`.
 */
import type { Logger } from "pino";
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
  type EngineWorkerSettings,
  type FromWorker,
} from "./engine-worker-protocol.ts";
import { engineSettings } from "./engine-settings.ts";
import type { AuditExecution, AuditExecutor, EngineStore, ExecutionContext, ExecutorDeps } from "./types.ts";

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

export interface WorkerEngineExecutorDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: Logger;
  settings: EngineWorkerSettings;
  budgets?: Partial<EngineBudgets>;
}

interface ActiveJob {
  id: number;
  /** The engine process running it (a later audit may run on another). */
  engine: EngineProcess;
  audit: AuditRecord;
  ctx: ExecutionContext;
  log: Logger;
  handlers: EngineCallHandlers;
  iterations: Map<number, AsyncIterator<StoredResult>>;
  /** Why the service is ending this audit, once it is (the error the audit settles with). */
  stopping?: Error;
  /** Restarts the per-batch deadline (a batch was scored); stops it once the audit finalizes. */
  batchDone(): void;
  finalizing(): void;
  settle(outcome: { ok: true; value: AuditExecution } | { ok: false; error: unknown }): void;
}

export class WorkerEngineExecutor implements AuditExecutor {
  readonly #deps: WorkerEngineExecutorDeps;
  readonly #budgets: EngineBudgets;
  #engine: EngineProcess | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #job: ActiveJob | undefined;
  #nextJob = 1;
  #nextIteration = 1;

  constructor(deps: WorkerEngineExecutorDeps) {
    this.#deps = deps;
    this.#budgets = { ...DEFAULT_ENGINE_BUDGETS, ...deps.budgets };
  }

  /** The engine process's id while one runs (tests read its /proc entries). */
  get enginePid(): number | undefined {
    return this.#engine?.alive ? this.#engine.pid : undefined;
  }

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    if (this.#job) throw new SslmemError("internal", "the engine runs one audit at a time");
    ctx.signal.throwIfAborted();
    const paths: Record<string, string> = {};
    for (const role of AUDIT_INPUT_ROLES) {
      const digest = audit.inputs[role];
      if (digest !== undefined) paths[digest] = this.#deps.blobs.pathFor(digest);
    }
    clearTimeout(this.#idleTimer);
    const engine = this.#ensureEngine();
    const id = this.#nextJob++;
    const budgets = this.#budgets;
    const batchPoints = batchSizeOf(audit);
    return new Promise<AuditExecution>((resolve, reject) => {
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
        audit,
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
          // A stopped audit may leave an ONNX Runtime run going on the engine's own threads (the
          // binding runs sessions off its event loop, so the engine can answer while ORT spins):
          // the process goes with the audit.
          if (job.stopping) engine.kill("abort");
          else this.#scheduleIdleExit();
          if (outcome.ok && !job.stopping) resolve(outcome.value);
          else reject(job.stopping ?? (outcome.ok ? new SslmemError("internal", "unreachable") : outcome.error));
        },
      };
      this.#job = job;
      timers.push(
        setTimeout(
          () => stop(new SslmemError("audit_timeout", `the audit ran longer than its limit of ${Math.round(budgets.auditTimeoutMs / 1000)} s`), true),
          budgets.auditTimeoutMs,
        ),
      );
      // The per-batch clock starts at the engine's first call (`loading`), not at its spawn.
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      engine.send({ type: "run", job: id, audit, settings: this.#deps.settings, paths });
    });
  }

  /** Ends the engine process (its sessions go with it); an audit still running fails. */
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

  /** The engine process ended: the audit it was running settles with what ended it. */
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
    } else if (exit.kind === "out_of_memory") {
      job.log.warn({ detail: exit.detail }, "engine process ran out of memory");
      job.settle({ ok: false, error: new SslmemError("resource_exhausted", "the audit ran out of memory in the engine; use a smaller model, input size or batch size") });
    } else {
      job.settle({ ok: false, error: new SslmemError("engine_failure", exit.detail) });
    }
  }

  #onMessage(engine: EngineProcess, m: FromWorker): void {
    // Messages of an engine that no longer runs the current audit reach no audit (calls are refused).
    const job = this.#job?.engine === engine ? this.#job : undefined;
    switch (m.type) {
      case "log":
        relayLog(job?.log ?? this.#deps.logger, m.record);
        return;
      case "scored":
        if (job?.id === m.job) {
          job.ctx.scored(m.work);
          job.batchDone();
        }
        return;
      case "done":
        if (job?.id === m.job) job.settle(m.ok ? { ok: true, value: m.value } : { ok: false, error: deserializeError(m.error) });
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
      committedIndices: (auditId) => store.committedIndices(own(auditId)),
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

/** Same inputs as engineExecutorFactory (execute-audit.ts), with the engine in a child process. */
export function workerEngineExecutorFactory(deps: ExecutorDeps): WorkerEngineExecutor {
  const { limits } = deps.config;
  return new WorkerEngineExecutor({
    store: deps.store,
    blobs: deps.blobs,
    logger: deps.logger,
    settings: engineSettings(deps.config),
    budgets: {
      memoryBytes: limits.engineMemoryBytes,
      heapMiB: limits.engineHeapMiB,
      auditTimeoutMs: limits.auditTimeoutMs,
      pointTimeoutMs: limits.pointTimeoutMs,
      idleMs: limits.engineIdleMs,
    },
  });
}
