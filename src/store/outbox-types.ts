/**
 * The durable outbox: deliveries to the outside (completion callbacks, verdict write-backs) that
 * must happen once an audit ends, whatever the process does meanwhile. A row is written when the
 * delivery becomes due to exist (at submission, in the audit's own insert: createAudit's
 * `deliveries`), claimed under a lease by a dispatcher
 * (src/outbox/dispatcher.ts), and settled by the claimant only (guarded by its lease): a crash
 * leaves the lease to expire and another process retries.
 */
/** A JSON object (as store/types.ts JsonObject; not imported from there: types.ts includes this interface). */
type JsonObject = Record<string, unknown>;

export const DELIVERY_STATES = ["pending", "delivered", "dead"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A delivery of an audit being created (createAudit): its key, tenant and audit come from the audit. */
export interface AuditDeliveryInput {
  /** Which sender handles it ("callback", "mlflow-verdict", "oci-verdict", …); at most one per kind and audit. */
  kind: string;
  payload: JsonObject;
}

/** A delivery row to insert (CheckedStore builds it from an AuditDeliveryInput). */
export interface NewDelivery {
  /** `<kind>:<audit id>`: unique, so an audit never has two deliveries of one kind. */
  key: string;
  /** Which sender handles it ("callback", "mlflow-verdict", "oci-verdict", …). */
  kind: string;
  tenant: string;
  auditId: string;
  payload: JsonObject;
}

export interface Delivery extends NewDelivery {
  id: string;
  state: DeliveryState;
  /** Attempts made so far (a wait for the audit to end is not an attempt). */
  attempts: number;
  /** When the dispatcher may take it next (ms since the epoch); while claimed, the lease's end. */
  nextAt: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** How a claimant settles a delivery it holds. */
export type DeliverySettlement =
  | { state: "delivered"; attempts: number }
  | { state: "pending"; attempts: number; nextAt: number; error?: string }
  | { state: "dead"; attempts: number; error: string };

export interface OutboxStore {
  /**
   * Claims up to `limit` pending deliveries due now: each one's nextAt moves to now + leaseMs in
   * the same statement, so no other dispatcher takes it before the lease ends. Oldest due first.
   */
  claimDeliveries(leaseMs: number, limit: number): Promise<Delivery[]>;
  /** Settles a claimed delivery; false when the lease was lost (another claimant holds it now). */
  settleDelivery(id: string, leaseUntil: number, settlement: DeliverySettlement): Promise<boolean>;
  /** The audit's deliveries, oldest first (diagnostics, tests). */
  deliveriesOfAudit(auditId: string): Promise<Delivery[]>;
}
