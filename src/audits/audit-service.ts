/**
 * The one writer of audit state. Creating an audit, every move along the state machine
 * (src/core/audit-states.ts), progress, the audit's SSE events and the mapping of a failure to
 * the audit's problem happen here and nowhere else: the HTTP routes parse and call it, the
 * in-process runner, the BullMQ runner and the shard worker call it (test/architecture/layers.test.ts
 * checks that no other module calls the store's audit writes).
 *
 * Every change is a conditional transition in the store, and only the caller whose transition
 * succeeded appends the `state` event: with several processes at once (API replicas cancelling,
 * workers starting, failing and merging), two shards failing at the same moment fail the audit
 * once, with one event. The terminal `state` event is the last event of an audit.
 */
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { AuditState } from "../core/audit-states.ts";
import { auditFailureProblem } from "../core/problem.ts";
import type { AuditSources } from "../core/source-identity.ts";
import { SOURCES_EVENT, hasSources } from "../sources/audit-inputs.ts";
import type {
  AuditEventInput,
  AuditPatch,
  AuditProgress,
  AuditRecord,
  AuditStateWriter,
  CreateAuditInput,
  CreateAuditResult,
  EventLog,
  JsonObject,
} from "../store/types.ts";
import { estimateEtaSeconds } from "./eta.ts";

/** What the service writes to and reads back (the audit it just started). */
export type AuditServiceStore = AuditStateWriter & Pick<EventLog, "appendEvent"> & {
  getAuditInternal(id: string): Promise<AuditRecord | null>;
};

/** What a new audit is made of; the service turns `sources` into the audit's `sources` event. */
export interface CreateAuditOrder extends Omit<CreateAuditInput, "events"> {
  /** Identities of the inputs given as references (resolved at submission); none: no event. */
  sources?: AuditSources;
}

/** The two log calls of the failure policy (a pino Logger is one). */
export interface AuditFailureLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AuditServiceOptions {
  store: AuditServiceStore;
  logger: AuditFailureLog;
  /** Called after every event this process appends (wakes SSE streams, here or in other processes). */
  onEvent?: (auditId: string) => void;
  now?: () => number;
  /** Called when an audit reaches a final state through this service, with the seconds since its submission (metrics). */
  onFinished?: (outcome: "succeeded" | "failed" | "cancelled", seconds: number) => void;
}

/** What a finished execution publishes. */
export interface AuditOutcome {
  summary: JsonObject;
  report: JsonObject;
}

/**
 * Where an ETA extrapolates from. `stage`: the start of the current stage in this process (one
 * runner measures the whole audit; a resumed audit's earlier rows do not count as speed).
 * `audit`: the audit's first start, since shards of every worker add to `done`.
 */
export type EtaBasis = { from: "stage" } | { from: "audit"; startedAt: string | null };

/** Stores progress and appends a `progress` event; false when the audit is not running any more. */
export type ProgressReporter = (p: AuditProgress) => Promise<boolean>;

export class AuditService {
  readonly #store: AuditServiceStore;
  readonly #logger: AuditFailureLog;
  readonly #onEvent: (auditId: string) => void;
  readonly #now: () => number;
  readonly #onFinished: AuditServiceOptions["onFinished"];

  constructor(options: AuditServiceOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#onFinished = options.onFinished;
  }

  /**
   * Stores a queued audit (or returns the one stored under the same Idempotency-Key) with its first
   * events (`state` queued, then `sources` when an input was a reference) and its outbox
   * deliveries, all in the insert's one transaction: a crash or a refusal leaves none of them, and
   * a replay writes none again. Refusals (`queue_full`, `blob_not_found`, `idempotency_conflict`)
   * are the store's, decided in that transaction. Whoever dispatches the deliveries is woken by the
   * caller, after this returns (after the commit).
   */
  async create(order: CreateAuditOrder): Promise<CreateAuditResult> {
    const { sources, ...input } = order;
    const events: AuditEventInput[] = [{ type: "state", data: { state: "queued" } }];
    if (sources !== undefined && hasSources(sources)) events.push({ type: SOURCES_EVENT, data: { ...sources } });
    const result = await this.#store.createAudit({ ...input, events });
    if (result.created) this.#onEvent(result.audit.id);
    return result;
  }

  /** queued → running. The audit as it now runs (its attempt counted), or null when it was not queued. */
  async start(auditId: string): Promise<AuditRecord | null> {
    if (!(await this.#store.transition(auditId, ["queued"], "running"))) return null;
    const audit = await this.#store.getAuditInternal(auditId);
    if (!audit) return null;
    await this.#stateEvent(auditId, "running", { attempt: audit.attempt });
    return audit;
  }

  /** running → queued: the audit resumes later from its committed rows (a restart, a shutdown). */
  requeue(auditId: string, reason: string): Promise<boolean> {
    return this.#transition(auditId, ["running"], "queued", {}, { reason });
  }

  /** Cancels the audit if it is in one of `from`; false when another writer moved it first. */
  cancel(auditId: string, from: readonly ("queued" | "running")[]): Promise<boolean> {
    return this.#transition(auditId, from, "cancelled", {}, {});
  }

  /** running → succeeded with the summary and report; false when a cancel (or a failure) won the race. */
  succeed(auditId: string, outcome: AuditOutcome): Promise<boolean> {
    return this.#transition(auditId, ["running"], "succeeded", { summary: outcome.summary, report: outcome.report }, { summary: outcome.summary });
  }

  /**
   * Fails a queued or running audit with the problem `err` describes; false when it had already
   * ended. A user error (4xx) keeps its code and message in the audit's `error`, for its owner;
   * the log keeps only the code, since the message can name a point (a file name: private). Any
   * other error becomes a generic problem, with the error itself in the log.
   */
  fail(auditId: string, err: unknown): Promise<boolean> {
    return this.#fail(auditId, ["queued", "running"], err, {});
  }

  /**
   * An audit a starting process finds `running`: the process that ran it died (or stopped
   * without the audit letting go), which counts as one crash. It goes back to the queue, unless
   * this makes `maxCrashes`: then it fails with `crash_loop` rather than take the process down
   * again. The count is written with the state, so a crash during this very step is not lost.
   */
  async recoverInterrupted(audit: AuditRecord, maxCrashes: number): Promise<"requeued" | "failed" | "moved"> {
    const crashes = audit.crashes + 1;
    if (crashes >= maxCrashes) {
      const err = new SslmemError(
        "crash_loop",
        `the service stopped ${crashes} times while this audit was running, so it is not resumed again; ` +
          "try a smaller batchSize or fewer/smaller images, or ask the operator",
        { crashes },
      );
      return (await this.#fail(audit.id, ["running"], err, { countCrash: true })) ? "failed" : "moved";
    }
    const requeued = await this.#transition(audit.id, ["running"], "queued", { countCrash: true }, { reason: "resumed after a restart" });
    return requeued ? "requeued" : "moved";
  }

  async #fail(auditId: string, from: readonly AuditState[], err: unknown, patch: AuditPatch): Promise<boolean> {
    const problem = auditFailureProblem(err, auditId);
    if (!(await this.#store.transition(auditId, from, "failed", { ...patch, error: problem }))) return false;
    if (isSslmemError(err) && problem.status < 500) this.#logger.warn({ auditId, code: err.code }, "audit failed");
    else this.#logger.error({ auditId, err }, "audit failed in the engine");
    await this.#stateEvent(auditId, "failed", { error: problem });
    await this.#finished(auditId, "failed");
    return true;
  }

  /**
   * A progress reporter for one execution: each call stores progress (ETA filled in when absent,
   * extrapolated from `basis`) and appends a `progress` event, only while the audit is running.
   * false means it is not (cancelled, failed elsewhere, deleted), which tells a shard to stop.
   */
  progressReporter(auditId: string, basis: EtaBasis): ProgressReporter {
    let stage: { name: string; at: number; doneAtStart: number } | undefined;
    return async (p) => {
      const now = this.#now();
      let eta = p.etaSeconds;
      if (basis.from === "stage") {
        if (stage?.name !== p.stage) stage = { name: p.stage, at: now, doneAtStart: p.done };
        eta ??= estimateEtaSeconds(p.done - stage.doneAtStart, p.total - stage.doneAtStart, now - stage.at);
      } else if (p.stage === "measuring") {
        eta ??= estimateEtaSeconds(p.done, p.total, basis.startedAt ? now - Date.parse(basis.startedAt) : 0);
      }
      const progress: AuditProgress = { stage: p.stage, done: p.done, total: p.total, ...(eta !== undefined ? { etaSeconds: eta } : {}) };
      if (!(await this.#store.setProgress(auditId, progress))) return false;
      await this.event(auditId, "progress", { ...progress });
      return true;
    };
  }

  /** Appends an event of the audit's own (engine, plan, batch…) to its SSE stream. */
  async event(auditId: string, type: string, data: JsonObject): Promise<void> {
    try {
      await this.#store.appendEvent(auditId, { type, data });
    } finally {
      this.#onEvent(auditId);
    }
  }

  async #transition(auditId: string, from: readonly AuditState[], to: AuditState, patch: AuditPatch, eventData: JsonObject): Promise<boolean> {
    if (!(await this.#store.transition(auditId, from, to, patch))) return false;
    await this.#stateEvent(auditId, to, eventData);
    if (to === "succeeded" || to === "cancelled") await this.#finished(auditId, to);
    return true;
  }

  /** Reports a final state's duration (submission → final state) to onFinished; a deleted audit has none. */
  async #finished(auditId: string, outcome: "succeeded" | "failed" | "cancelled"): Promise<void> {
    if (!this.#onFinished) return;
    const audit = await this.#store.getAuditInternal(auditId);
    if (!audit) return;
    const end = audit.finishedAt ? Date.parse(audit.finishedAt) : this.#now();
    this.#onFinished(outcome, Math.max(0, (end - Date.parse(audit.createdAt)) / 1000));
  }

  /** Appends a `state` event; a deleted audit (no row to attach it to) is not an error here. */
  async #stateEvent(auditId: string, state: AuditState, data: JsonObject): Promise<void> {
    try {
      await this.event(auditId, "state", { state, ...data });
    } catch (err) {
      if (!(isSslmemError(err) && err.code === "not_found")) throw err;
    }
  }
}
