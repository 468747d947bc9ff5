/**
 * The scaled mode worker's ShardExecutor with the engine in child processes: its plan, shard and
 * merge jobs run as jobs of EngineSessions (engine-session.ts), under the same budgets as the
 * embedded runner's audits, so a tenant's model that hangs in ONNX Runtime or needs too much
 * memory ends its own audit, never the worker.
 *
 * All three steps run in the engine, not only the shard: the plan opens the inputs and creates
 * both encoders' ONNX Runtime sessions (a model can exhaust memory there), and the merge runs the
 * encoder-health sample through both encoders. Only the job bookkeeping (audit state, the flow of
 * jobs) stays in the worker.
 *
 * What ends a job, and what the shard worker makes of it (shard-worker.ts, #onError):
 * - the audit's deadline (`auditTimeoutMs` from the audit's start, across all its jobs) or a
 *   batch's deadline (`pointTimeoutMs` per point) → `audit_timeout`; the memory ceiling or the
 *   engine's heap limit → `resource_exhausted`: 4xx, the audit fails at once, no retry;
 * - the engine process crashing, or killed by a signal nobody here sent → `engine_failure`: 5xx,
 *   retried by BullMQ (a real OOM kill fails the same way on every attempt, then the audit fails);
 * - cancel and shutdown abort the job's signal: the engine stops between batches, or is killed
 *   after `abortGraceMs`.
 *
 * One engine process per job the worker runs at once (`concurrency`); a job goes to a free
 * session that last ran the same audit when there is one (its workspace is still open there).
 */
import { SslmemError } from "../core/errors.ts";
import type { AuditRecord } from "../store/types.ts";
import { EngineSession, engineBudgetsFromConfig, type EngineHostDeps } from "./engine-session.ts";
import { engineSettings } from "./engine-settings.ts";
import type { EngineOp, EngineOpResult } from "./engine-worker-protocol.ts";
import type { AuditPlan, PointRange } from "./execute-audit.ts";
import type { ShardExecutor } from "./shard-worker.ts";
import type { AuditExecution, ExecutionContext, ExecutorDeps } from "./types.ts";

export interface EngineShardExecutorDeps extends EngineHostDeps {
  /** Jobs the worker runs at once: one engine process each (default 1). */
  concurrency?: number;
}

export class EngineShardExecutor implements ShardExecutor {
  readonly #sessions: EngineSession[];

  constructor(deps: EngineShardExecutorDeps) {
    const { concurrency = 1, ...session } = deps;
    this.#sessions = Array.from({ length: Math.max(1, concurrency) }, () => new EngineSession({ ...session, systemKill: "engine_failure" }));
  }

  /** The ids of the engine processes running now (tests read their /proc entries). */
  get enginePids(): number[] {
    return this.#sessions.flatMap((s) => (s.enginePid === undefined ? [] : [s.enginePid]));
  }

  async planAudit(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditPlan> {
    const result = await this.#run({ kind: "plan" }, audit, ctx);
    if (result.kind !== "plan") throw unexpected(result);
    return result.value;
  }

  async measureShard(audit: AuditRecord, range: PointRange, ctx: ExecutionContext): Promise<{ measured: number }> {
    const result = await this.#run({ kind: "shard", range: { from: range.from, to: range.to } }, audit, ctx);
    if (result.kind !== "shard") throw unexpected(result);
    return result.value;
  }

  async mergeAudit(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    const result = await this.#run({ kind: "merge" }, audit, ctx);
    if (result.kind !== "merge") throw unexpected(result);
    return result.value;
  }

  async forget(auditId: string): Promise<void> {
    for (const s of this.#sessions) s.forget(auditId);
  }

  async close(): Promise<void> {
    await Promise.all(this.#sessions.map((s) => s.close()));
  }

  #run(op: EngineOp, audit: AuditRecord, ctx: ExecutionContext): Promise<EngineOpResult> {
    const free = this.#sessions.filter((s) => !s.busy);
    const session = free.find((s) => s.warmAuditId === audit.id) ?? free[0];
    if (!session) throw new SslmemError("internal", "more jobs at once than engine processes (the worker's concurrency)");
    // The audit's deadline counts from its start, across its plan, shards and merge.
    const started = audit.startedAt === null ? Date.now() : Date.parse(audit.startedAt);
    return session.run(op, audit, ctx, { deadlineAt: started + session.budgets.auditTimeoutMs });
  }
}

function unexpected(result: EngineOpResult): SslmemError {
  return new SslmemError("internal", `the engine answered a ${result.kind} job`);
}

/** The worker's executor from Config: the same engine settings and budgets as `sslmem serve`. */
export function engineShardExecutorFactory(deps: ExecutorDeps & { concurrency?: number }): EngineShardExecutor {
  return new EngineShardExecutor({
    store: deps.store,
    blobs: deps.blobs,
    logger: deps.logger,
    settings: engineSettings(deps.config),
    budgets: engineBudgetsFromConfig(deps.config),
    // One audit's inputs stay open between its shards; a worker moving on closes them.
    workspaces: { idleMs: 60_000, maxIdle: 1 },
    ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
  });
}
