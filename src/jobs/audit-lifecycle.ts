/**
 * The audit state machine as the scaled mode drives it: from several processes at once (API
 * replicas cancelling, workers starting, failing and merging), so every change is a conditional
 * transition in the store and only the process whose transition succeeded appends the `state`
 * event. Two shards failing at the same moment therefore fail the audit once, with one event.
 */
import type { Logger } from "pino";
import { isSslmemError } from "../core/errors.ts";
import { auditFailureProblem } from "../http/problem.ts";
import type { AuditPatch, AuditProgress, AuditState, JsonObject, Store } from "../store/types.ts";
import { estimateEtaSeconds } from "./eta.ts";

export interface AuditLifecycleOptions {
  store: Store;
  logger: Logger;
  /** Called after every event this process appends (wakes SSE streams, here or elsewhere). */
  onEvent?: (auditId: string) => void;
  now?: () => number;
}

export class AuditLifecycle {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #onEvent: (auditId: string) => void;
  readonly #now: () => number;

  constructor(options: AuditLifecycleOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  /** Conditional transition; on success appends the `state` event. false when another process got there first. */
  async transition(auditId: string, from: readonly AuditState[], to: AuditState, patch: AuditPatch = {}, eventData: JsonObject = {}): Promise<boolean> {
    if (!(await this.#store.transition(auditId, from, to, patch))) return false;
    await this.stateEvent(auditId, to, eventData);
    return true;
  }

  /** Fails a queued or running audit with the problem `err` describes; false when it had already ended. */
  async fail(auditId: string, err: unknown): Promise<boolean> {
    const problem = auditFailureProblem(err, auditId);
    const failed = await this.transition(auditId, ["queued", "running"], "failed", { error: problem }, { error: problem });
    if (failed) {
      // A user error's message can name a point (a file name: private); it is in the audit's
      // error, for its owner, and the log keeps only the code.
      if (isSslmemError(err) && problem.status < 500) this.#logger.warn({ auditId, code: err.code }, "audit failed");
      else this.#logger.error({ auditId, err }, "audit failed in the engine");
    }
    return failed;
  }

  /**
   * Stores progress and appends a `progress` event, only while the audit is running: false means
   * it is not (cancelled, failed elsewhere, deleted), which tells a shard to stop. The ETA is
   * extrapolated from the audit's start, since shards of every worker add to `done`.
   */
  async progress(auditId: string, p: AuditProgress, startedAt: string | null): Promise<boolean> {
    const elapsedMs = startedAt ? this.#now() - Date.parse(startedAt) : 0;
    const eta = p.etaSeconds ?? (p.stage === "measuring" ? estimateEtaSeconds(p.done, p.total, elapsedMs) : undefined);
    const progress: AuditProgress = { stage: p.stage, done: p.done, total: p.total, ...(eta !== undefined ? { etaSeconds: eta } : {}) };
    if (!(await this.#store.setProgress(auditId, progress))) return false;
    await this.event(auditId, "progress", { ...progress });
    return true;
  }

  async event(auditId: string, type: string, data: JsonObject): Promise<void> {
    try {
      await this.#store.appendEvent(auditId, { type, data });
    } finally {
      this.#onEvent(auditId);
    }
  }

  /** Appends a `state` event; a deleted audit (no row to attach it to) is not an error here. */
  async stateEvent(auditId: string, state: AuditState, data: JsonObject): Promise<void> {
    try {
      await this.event(auditId, "state", { state, ...data });
    } catch (err) {
      if (!(isSslmemError(err) && err.code === "not_found")) throw err;
    }
  }
}
