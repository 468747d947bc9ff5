/**
 * The embedded runner's AuditExecutor with the measuring work in a child process: each audit is
 * one job of an EngineSession (engine-session.ts), which holds the engine process and enforces
 * the engine's budgets (audit and per-batch deadlines, memory ceiling, cancel and shutdown by
 * SIGKILL). The scaled mode's worker runs its plan, shard and merge jobs on the same sessions
 * (engine-shard-executor.ts).
 */
import type { Logger } from "pino";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditRecord } from "../store/types.ts";
import { EngineSession, engineBudgetsFromConfig, type EngineBudgets } from "./engine-session.ts";
import type { EngineWorkerSettings } from "./engine-worker-protocol.ts";
import { engineSettings } from "./engine-settings.ts";
import type { AuditExecution, AuditExecutor, EngineStore, ExecutionContext, ExecutorDeps } from "./types.ts";
import { SslmemError } from "../core/errors.ts";

export { DEFAULT_ENGINE_BUDGETS, type EngineBudgets } from "./engine-session.ts";

export interface WorkerEngineExecutorDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: Logger;
  settings: EngineWorkerSettings;
  budgets?: Partial<EngineBudgets>;
}

export class WorkerEngineExecutor implements AuditExecutor {
  readonly #session: EngineSession;

  constructor(deps: WorkerEngineExecutorDeps) {
    // Embedded, a SIGKILL nobody sent is the kernel's OOM killer: the audit needed too much memory.
    this.#session = new EngineSession({ ...deps, systemKill: "resource_exhausted" });
  }

  /** The engine process's id while one runs (tests read its /proc entries). */
  get enginePid(): number | undefined {
    return this.#session.enginePid;
  }

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    const result = await this.#session.run({ kind: "execute" }, audit, ctx);
    if (result.kind !== "execute") throw new SslmemError("internal", `the engine answered a ${result.kind} job`);
    return result.value;
  }

  /** Ends the engine process (its sessions go with it); an audit still running fails. */
  close(): Promise<void> {
    return this.#session.close();
  }
}

/** Same inputs as engineExecutorFactory (execute-audit.ts), with the engine in a child process. */
export function workerEngineExecutorFactory(deps: ExecutorDeps): WorkerEngineExecutor {
  return new WorkerEngineExecutor({
    store: deps.store,
    blobs: deps.blobs,
    logger: deps.logger,
    settings: engineSettings(deps.config),
    budgets: engineBudgetsFromConfig(deps.config),
  });
}
