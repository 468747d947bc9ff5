/**
 * The SQL the outbox and the watches need from a dialect (sqlite-deliveries.ts,
 * pg-deliveries.ts). Arguments arrive checked by CheckedStore; ids and the clock are its too.
 * Deliveries are inserted only inside the insert of their audit (each dialect's insertAudit calls
 * its delivery module's insertForAudit in its own transaction), so they are not part of DeliverySql.
 */
import type { Delivery, DeliverySettlement, NewDelivery } from "./outbox-types.ts";
import type { NewWatch, WatchKind, WatchRecord } from "./watch-types.ts";

/** A delivery row as a dialect inserts it, with its audit (same `now`, same transaction). */
export type NewDeliveryRow = NewDelivery & { id: string };

export interface DeliverySql {
  claimDue(now: number, leaseUntil: number, limit: number): Promise<Delivery[]>;
  settle(id: string, leaseUntil: number, s: DeliverySettlement, now: number): Promise<boolean>;
  deliveriesOfAudit(auditId: string): Promise<Delivery[]>;
}

export interface WatchSql {
  insertWatch(w: NewWatch & { id: string; now: number }): Promise<WatchRecord>;
  watchById(id: string, tenant?: string): Promise<WatchRecord | null>;
  watchesOfTenant(tenant: string): Promise<WatchRecord[]>;
  watchesOfKind(kind: WatchKind): Promise<WatchRecord[]>;
  deleteWatch(tenant: string, id: string): Promise<boolean>;
  /** Inserts the claim (pending until `leaseUntil`, or settled when null); takes over a pending one whose lease ended. */
  insertTrigger(watchId: string, key: string, now: number, leaseUntil: number | null): Promise<boolean>;
  deleteTrigger(watchId: string, key: string): Promise<void>;
}

export interface DeliveryRow {
  id: string;
  key: string;
  kind: string;
  tenant: string;
  audit_id: string;
  payload: unknown;
  state: string;
  attempts: number | string;
  next_at: number | string;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
}

export interface WatchRow {
  id: string;
  tenant: string;
  kind: string;
  spec: unknown;
  secret: string;
  created_at: number | string;
}

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();
const parsed = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);

export function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    key: r.key,
    kind: r.kind,
    tenant: r.tenant,
    auditId: r.audit_id,
    payload: parsed(r.payload),
    state: r.state as Delivery["state"],
    attempts: Number(r.attempts),
    nextAt: Number(r.next_at),
    lastError: r.last_error,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export function toWatch(r: WatchRow): WatchRecord {
  return { id: r.id, tenant: r.tenant, kind: r.kind as WatchKind, spec: parsed(r.spec), secret: r.secret, createdAt: iso(r.created_at) };
}

/** The settlement as column values: state, attempts, next_at (kept when absent), last_error. */
export function settlementColumns(s: DeliverySettlement): { state: string; attempts: number; nextAt: number | null; error: string | null } {
  if (s.state === "pending") return { state: s.state, attempts: s.attempts, nextAt: s.nextAt, error: s.error ?? null };
  return { state: s.state, attempts: s.attempts, nextAt: null, error: s.state === "dead" ? s.error : null };
}
