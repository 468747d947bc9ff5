/**
 * The engine's AuditExecutor with the measuring work on a worker thread (engine-worker.ts), so
 * the HTTP event loop stays responsive while an audit runs: ONNX Runtime's node binding runs a
 * session synchronously, and with a ResNet-18-sized encoder one batch held the main thread for
 * seconds (numbers in docs/limits-and-security.md). Store writes, blob lookups, progress and
 * logs stay on the main thread; the worker asks for them by message.
 *
 * One worker serves the whole process, one audit at a time (the runner's contract), and keeps its
 * encoder sessions across audits. A worker that dies fails the running audit with
 * `engine_failure` and is replaced for the next one. The worker is never `terminate()`d: doing
 * that while ONNX Runtime runs a session aborts the whole process (the binding throws a C++
 * exception nobody catches). It is asked to exit instead, which it does between two ORT calls;
 * an audit that does not stop within `abortGraceMs` of a cancel or shutdown (one long session run
 * cannot be interrupted) is settled at once and its worker left to exit after that run, while
 * the next audit gets a fresh worker.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { SslmemError } from "../core/errors.ts";
import { settledWithin } from "../process/deadline.ts";
import type { BlobReader } from "../store/blob-store.ts";
import { AUDIT_INPUT_ROLES, type AuditRecord, type StoredResult } from "../store/types.ts";
import {
  deserializeError,
  serializeError,
  type EngineCallName,
  type EngineWorkerSettings,
  type FromWorker,
  type ToWorker,
} from "./engine-worker-protocol.ts";
import { engineSettings } from "./engine-settings.ts";
import type { AuditExecution, AuditExecutor, EngineStore, ExecutionContext, ExecutorDeps } from "./types.ts";

export interface WorkerEngineExecutorDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: Logger;
  settings: EngineWorkerSettings;
  /** After an abort, how long the worker may take to stop before its audit is settled and the worker replaced (default 3 s). */
  abortGraceMs?: number;
}

interface ActiveJob {
  id: number;
  audit: AuditRecord;
  ctx: ExecutionContext;
  log: Logger;
  iterations: Map<number, AsyncIterator<StoredResult>>;
  settle(outcome: { ok: true; value: AuditExecution } | { ok: false; error: unknown }): void;
}

const WORKER_URL = new URL("./engine-worker-boot.js", import.meta.url);

export class WorkerEngineExecutor implements AuditExecutor {
  readonly #deps: WorkerEngineExecutorDeps;
  readonly #abortGraceMs: number;
  #worker: Worker | undefined;
  #job: ActiveJob | undefined;
  #nextJob = 1;
  #nextIteration = 1;

  constructor(deps: WorkerEngineExecutorDeps) {
    this.#deps = deps;
    this.#abortGraceMs = deps.abortGraceMs ?? 3_000;
  }

  /** The worker's thread id while one is running (tests check the work leaves the main thread). */
  get workerThreadId(): number | undefined {
    return this.#worker?.threadId;
  }

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    if (this.#job) throw new SslmemError("internal", "the engine worker runs one audit at a time");
    ctx.signal.throwIfAborted();
    const paths: Record<string, string> = {};
    for (const role of AUDIT_INPUT_ROLES) {
      const digest = audit.inputs[role];
      if (digest !== undefined) paths[digest] = this.#deps.blobs.pathFor(digest);
    }
    this.#ensureWorker();
    const id = this.#nextJob++;
    return new Promise<AuditExecution>((resolve, reject) => {
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.#post({ type: "abort", job: id, reason: serializeError(ctx.signal.reason) });
        killTimer = setTimeout(() => {
          this.#deps.logger.warn({ auditId: audit.id, graceMs: this.#abortGraceMs }, "engine worker did not stop after an abort; replacing it");
          this.#retireWorker();
          job.settle({ ok: false, error: ctx.signal.reason });
        }, this.#abortGraceMs);
      };
      const job: ActiveJob = {
        id,
        audit,
        ctx,
        log: this.#deps.logger.child({ auditId: audit.id }),
        iterations: new Map(),
        settle: (outcome) => {
          if (this.#job !== job) return;
          this.#job = undefined;
          clearTimeout(killTimer);
          ctx.signal.removeEventListener("abort", onAbort);
          for (const it of job.iterations.values()) void it.return?.();
          job.iterations.clear();
          if (outcome.ok) resolve(outcome.value);
          else reject(outcome.error);
        },
      };
      this.#job = job;
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.#post({ type: "run", job: id, audit, settings: this.#deps.settings, paths });
    });
  }

  /**
   * Ends the worker (its sessions go with it); an audit still running fails. Waits at most
   * `abortGraceMs` for the thread to exit (it exits after the ORT call in progress, if any).
   */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    this.#retireWorker();
    this.#job?.settle({ ok: false, error: new SslmemError("engine_failure", "the engine worker was stopped") });
    await settledWithin(exited, this.#abortGraceMs);
  }

  #post(message: ToWorker): void {
    this.#worker?.postMessage(message);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL, { name: "sslmem-engine" });
    // An idle worker must not keep the process alive; a running audit is awaited by the runner.
    worker.unref();
    worker.on("message", (m: FromWorker) => this.#onMessage(worker, m));
    worker.on("error", (err) => {
      this.#deps.logger.error({ err }, "the engine worker crashed");
      this.#lost(worker, "the engine worker crashed");
    });
    worker.on("exit", (code) => this.#lost(worker, `the engine worker exited (code ${code})`));
    this.#worker = worker;
    return worker;
  }

  /** Asks the current worker to exit at its next safe point; the next audit gets a new one. */
  #retireWorker(): void {
    const worker = this.#worker;
    this.#worker = undefined;
    worker?.postMessage({ type: "shutdown" } satisfies ToWorker);
  }

  /** The worker is gone: the audit it was running fails; the next audit gets a new worker. */
  #lost(worker: Worker, why: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#job?.settle({ ok: false, error: new SslmemError("engine_failure", why) });
  }

  #onMessage(worker: Worker, m: FromWorker): void {
    if (worker !== this.#worker) return;
    const job = this.#job;
    switch (m.type) {
      case "log": {
        const log = job?.log ?? this.#deps.logger;
        const fields = { ...m.obj };
        if (fields.err && typeof fields.err === "object") fields.err = deserializeError(fields.err as never);
        log[m.level](fields, m.msg);
        return;
      }
      case "scored":
        if (job?.id === m.job) job.ctx.scored(m.work);
        return;
      case "done":
        if (job?.id === m.job) job.settle(m.ok ? { ok: true, value: m.value } : { ok: false, error: deserializeError(m.error) });
        return;
      case "call":
        if (job?.id !== m.job) {
          this.#post({ type: "reply", call: m.call, ok: false, error: serializeError(new SslmemError("cancelled", "the audit is no longer running")) });
          return;
        }
        this.#answer(job, m.method, m.args).then(
          (value) => this.#post({ type: "reply", call: m.call, ok: true, value }),
          (err: unknown) => this.#post({ type: "reply", call: m.call, ok: false, error: serializeError(err) }),
        );
    }
  }

  /** One call of the worker, limited to the audit it is running and the inputs of that audit. */
  async #answer(job: ActiveJob, method: EngineCallName, args: unknown[]): Promise<unknown> {
    const { store, blobs } = this.#deps;
    const own = (auditId: unknown) => {
      if (auditId !== job.audit.id) throw new SslmemError("internal", "the engine worker asked about another audit");
      return auditId;
    };
    switch (method) {
      case "committedIndices":
        return store.committedIndices(own(args[0]));
      case "readEvents":
        return store.readEvents(own(args[0]), Number(args[1]), Number(args[2]));
      case "appendResults":
        return store.appendResults(own(args[0]), args[1] as never);
      case "finalizeResults":
        return store.finalizeResults(own(args[0]), args[1] as never);
      case "iterateOpen": {
        const id = this.#nextIteration++;
        job.iterations.set(id, store.iterateResults(own(args[0]))[Symbol.asyncIterator]());
        return id;
      }
      case "iterateNext": {
        const it = job.iterations.get(args[0] as number);
        if (!it) throw new SslmemError("internal", "unknown result iteration");
        const rows: StoredResult[] = [];
        const max = Math.max(1, Math.min(10_000, Number(args[1]) || 1000));
        while (rows.length < max) {
          const step = await it.next();
          if (step.done) {
            job.iterations.delete(args[0] as number);
            return { rows, done: true };
          }
          rows.push(step.value);
        }
        return { rows, done: false };
      }
      case "blobHas": {
        const digest = args[0] as string;
        if (!Object.values(job.audit.inputs).includes(digest)) throw new SslmemError("internal", "the engine worker asked about another blob");
        return blobs.has(digest);
      }
      case "progress":
        return job.ctx.progress(args[0] as never);
      case "event":
        return job.ctx.event(args[0] as string, args[1] as never);
    }
  }
}

/** Same inputs as engineExecutorFactory (execute-audit.ts), with the engine on a worker thread. */
export function workerEngineExecutorFactory(deps: ExecutorDeps): WorkerEngineExecutor {
  return new WorkerEngineExecutor({ store: deps.store, blobs: deps.blobs, logger: deps.logger, settings: engineSettings(deps.config) });
}
