/** The outbox's and the watches' SQL for SQLite (see delivery-dialect.ts). */
import type Database from "better-sqlite3";
import {
  settlementColumns,
  toDelivery,
  toWatch,
  type DeliveryRow,
  type DeliverySql,
  type NewDeliveryRow,
  type WatchRow,
  type WatchSql,
} from "./delivery-dialect.ts";
import type { Delivery, DeliverySettlement } from "./outbox-types.ts";
import type { NewWatch, WatchKind, WatchRecord, WatchTriggerRef } from "./watch-types.ts";

type Prepare = (sql: string) => Database.Statement;

export class SqliteDeliverySql implements DeliverySql {
  constructor(
    private readonly stmt: Prepare,
    private readonly write: <T>(fn: () => T) => T,
  ) {}

  /**
   * Called inside the audit's insert transaction (synchronous, as better-sqlite3's transactions
   * are). A plain INSERT: a key already taken is an error that rolls the audit back with it.
   */
  insertForAudit(rows: readonly NewDeliveryRow[], now: number): void {
    const insert = this.stmt(
      `INSERT INTO outbox (id, key, kind, tenant, audit_id, payload, state, attempts, next_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
    );
    for (const d of rows) insert.run(d.id, d.key, d.kind, d.tenant, d.auditId, JSON.stringify(d.payload), now, now, now);
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<Delivery[]> {
    return this.write(() =>
      (
        this.stmt(
          `UPDATE outbox SET next_at = ?, updated_at = ?
           WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?)
           RETURNING *`,
        ).all(leaseUntil, now, now, limit) as DeliveryRow[]
      ).map(toDelivery),
    );
  }

  async settle(id: string, leaseUntil: number, s: DeliverySettlement, now: number): Promise<boolean> {
    const c = settlementColumns(s);
    return (
      this.stmt(
        `UPDATE outbox SET state = ?, attempts = ?, next_at = coalesce(?, next_at), last_error = ?, updated_at = ?
         WHERE id = ? AND state = 'pending' AND next_at = ?`,
      ).run(c.state, c.attempts, c.nextAt, c.error, now, id, leaseUntil).changes > 0
    );
  }

  async deliveriesOfAudit(auditId: string): Promise<Delivery[]> {
    return (this.stmt("SELECT * FROM outbox WHERE audit_id = ? ORDER BY created_at, id").all(auditId) as DeliveryRow[]).map(toDelivery);
  }
}

export class SqliteWatchSql implements WatchSql {
  constructor(private readonly stmt: Prepare) {}

  async insertWatch(w: NewWatch & { id: string; now: number }): Promise<WatchRecord> {
    this.stmt("INSERT INTO watches (id, tenant, kind, spec, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)").run(
      w.id,
      w.tenant,
      w.kind,
      JSON.stringify(w.spec),
      w.secret,
      w.now,
    );
    return toWatch({ id: w.id, tenant: w.tenant, kind: w.kind, spec: w.spec, secret: w.secret, created_at: w.now });
  }
  async watchById(id: string, tenant?: string): Promise<WatchRecord | null> {
    const row = (tenant === undefined
      ? this.stmt("SELECT * FROM watches WHERE id = ?").get(id)
      : this.stmt("SELECT * FROM watches WHERE id = ? AND tenant = ?").get(id, tenant)) as WatchRow | undefined;
    return row ? toWatch(row) : null;
  }
  async watchesOfTenant(tenant: string): Promise<WatchRecord[]> {
    return (this.stmt("SELECT * FROM watches WHERE tenant = ? ORDER BY id").all(tenant) as WatchRow[]).map(toWatch);
  }
  async watchesOfKind(kind: WatchKind): Promise<WatchRecord[]> {
    return (this.stmt("SELECT * FROM watches WHERE kind = ? ORDER BY id").all(kind) as WatchRow[]).map(toWatch);
  }
  async deleteWatch(tenant: string, id: string): Promise<boolean> {
    return this.stmt("DELETE FROM watches WHERE id = ? AND tenant = ?").run(id, tenant).changes > 0;
  }
  async insertTrigger(watchId: string, key: string, now: number, leaseUntil: number | null): Promise<boolean> {
    // One statement: a new claim, or the takeover of a pending one whose lease ended (changes 0 otherwise).
    return (
      this.stmt(
        `INSERT INTO watch_triggers (watch_id, key, created_at, lease_until) VALUES (@watchId, @key, @now, @leaseUntil)
         ON CONFLICT (watch_id, key) DO UPDATE SET created_at = excluded.created_at, lease_until = excluded.lease_until
         WHERE watch_triggers.lease_until IS NOT NULL AND watch_triggers.lease_until <= @now`,
      ).run({ watchId, key, now, leaseUntil }).changes > 0
    );
  }
  /** Called inside the audit's insert transaction: the claim is settled for good (no lease to end). */
  settleTriggerForAudit(t: WatchTriggerRef): void {
    this.stmt("UPDATE watch_triggers SET lease_until = NULL WHERE watch_id = ? AND key = ?").run(t.watchId, t.key);
  }
  async deleteTrigger(watchId: string, key: string): Promise<void> {
    this.stmt("DELETE FROM watch_triggers WHERE watch_id = ? AND key = ?").run(watchId, key);
  }
}
