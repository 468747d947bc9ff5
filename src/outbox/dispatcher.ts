/**
 * The one delivery mechanism for what leaves the service when an audit ends: completion
 * callbacks and verdict write-backs are rows in the store's outbox (outbox-types.ts), written at
 * submission, so they survive a restart. The dispatcher claims due rows under a lease, waits
 * (without counting an attempt) while their audit has not ended, hands each to the sender of its
 * kind, and settles it: delivered, retried after a doubling pause (capped), or dead after the
 * configured attempts or a permanent refusal. Only the claimant settles (its lease guards the
 * UPDATE), so several processes can dispatch from one database.
 *
 * Each attempt is recorded on the delivery's own row (attempts, last error, state: see
 * GET /v1/audits/{id}/deliveries) and in the log — not as an SSE event of the audit, because an
 * audit's terminal `state` event is its last one (src/audits/audit-service.ts).
 */
import { isTerminal } from "../core/audit-states.ts";
import type { Delivery, OutboxStore } from "../store/outbox-types.ts";
import type { AuditReader, AuditRecord, JsonObject } from "../store/types.ts";

/** What a sender says about one attempt. */
export type SendResult =
  | { outcome: "delivered"; record: JsonObject }
  /** Transient (network, 408, 429, 5xx): try again later. */
  | { outcome: "retry"; error: string; record: JsonObject }
  /** Permanent (4xx, refused address, bad payload): no retry. */
  | { outcome: "failed"; error: string; record: JsonObject };

export interface DeliverySender {
  /** Sends `delivery` for the ended `audit`; throws only on a bug (treated as a retry). */
  send(delivery: Delivery, audit: AuditRecord): Promise<SendResult>;
}

export interface DispatcherSettings {
  /** How often due rows are looked for. */
  pollMs: number;
  /** How long a claim holds a row (longer than one send can take). */
  leaseMs: number;
  /** Attempts before a delivery is dead. */
  attempts: number;
  /** First pause after a failed attempt; doubles per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Re-check pause for a delivery whose audit has not ended yet. */
  waitMs: number;
}

export interface DispatcherOptions {
  store: OutboxStore & Pick<AuditReader, "getAuditInternal">;
  senders: Readonly<Record<string, DeliverySender>>;
  settings: DispatcherSettings;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  now?: () => number;
}

const BATCH = 16;

export function backoffFor(attempt: number, s: Pick<DispatcherSettings, "backoffMs" | "maxBackoffMs">): number {
  return Math.min(s.maxBackoffMs, s.backoffMs * 2 ** Math.max(0, attempt - 1));
}

export class OutboxDispatcher {
  readonly #o: DispatcherOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Looks for due deliveries now (a new row was written, an audit ended). */
  wake(): void {
    if (!this.#stopped && this.#running === undefined) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.#o.logger.error({ err }, "the outbox dispatcher failed a round"))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(this.#o.settings.pollMs);
        });
    }, ms);
    this.#timer.unref();
  }

  /** One round: claims and handles what is due; returns how many rows it settled. */
  async runOnce(): Promise<number> {
    let settled = 0;
    for (;;) {
      const due = await this.#o.store.claimDeliveries(this.#o.settings.leaseMs, BATCH);
      for (const d of due) if (await this.#handle(d)) settled++;
      if (due.length < BATCH || this.#stopped) return settled;
    }
  }

  async #handle(d: Delivery): Promise<boolean> {
    const { store, settings, logger } = this.#o;
    const lease = d.nextAt;
    const audit = await store.getAuditInternal(d.auditId);
    if (audit === null) {
      return store.settleDelivery(d.id, lease, { state: "dead", attempts: d.attempts, error: "the audit was deleted" });
    }
    if (!isTerminal(audit.state)) {
      return store.settleDelivery(d.id, lease, { state: "pending", attempts: d.attempts, nextAt: this.#now() + settings.waitMs });
    }
    const sender = this.#o.senders[d.kind];
    const attempt = d.attempts + 1;
    let result: SendResult;
    if (sender === undefined) result = { outcome: "failed", error: `no sender for '${d.kind}'`, record: {} };
    else {
      try {
        result = await sender.send(d, audit);
      } catch (err) {
        logger.error({ err, deliveryId: d.id, kind: d.kind }, "a delivery sender threw");
        result = { outcome: "retry", error: "internal", record: {} };
      }
    }
    const fields = { auditId: d.auditId, deliveryId: d.id, kind: d.kind, attempt, outcome: result.outcome, ...result.record };
    if (result.outcome === "delivered") {
      logger.info(fields, "delivered");
      return store.settleDelivery(d.id, lease, { state: "delivered", attempts: attempt });
    }
    if (result.outcome === "failed" || attempt >= settings.attempts) {
      logger.warn({ ...fields, error: result.error }, "delivery given up");
      return store.settleDelivery(d.id, lease, { state: "dead", attempts: attempt, error: result.error });
    }
    logger.info({ ...fields, error: result.error }, "delivery will be retried");
    return store.settleDelivery(d.id, lease, { state: "pending", attempts: attempt, nextAt: this.#now() + backoffFor(attempt, settings), error: result.error });
  }
}
