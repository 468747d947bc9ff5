/** The outbox's and the watches' SQL for PostgreSQL (see delivery-dialect.ts). */
import type pg from "pg";
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

type Query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;
type Queryable = Pick<pg.ClientBase, "query">;

export class PgDeliverySql implements DeliverySql {
  constructor(private readonly query: Query) {}

  /**
   * Called inside the audit's insert transaction, on its connection `on`. One statement, a plain
   * INSERT: a key already taken is an error that rolls the audit back with it.
   */
  async insertForAudit(rows: readonly NewDeliveryRow[], now: number, on: Queryable): Promise<void> {
    if (rows.length === 0) return;
    await on.query(
      `INSERT INTO outbox (id, key, kind, tenant, audit_id, payload, state, attempts, next_at, created_at, updated_at)
       SELECT id, key, kind, tenant, audit_id, payload::json, 'pending', 0, $7, $7, $7
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS d(id, key, kind, tenant, audit_id, payload)`,
      [rows.map((d) => d.id), rows.map((d) => d.key), rows.map((d) => d.kind), rows.map((d) => d.tenant), rows.map((d) => d.auditId), rows.map((d) => JSON.stringify(d.payload)), now],
    );
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<Delivery[]> {
    // SKIP LOCKED: dispatchers in several processes take disjoint rows without waiting.
    const { rows } = await this.query<DeliveryRow>(
      `UPDATE outbox SET next_at = $1, updated_at = $2
       WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_at <= $2 ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [leaseUntil, now, limit],
    );
    return rows.map(toDelivery).sort((a, b) => a.nextAt - b.nextAt || (a.id < b.id ? -1 : 1));
  }

  async settle(id: string, leaseUntil: number, s: DeliverySettlement, now: number): Promise<boolean> {
    const c = settlementColumns(s);
    const r = await this.query(
      `UPDATE outbox SET state = $1, attempts = $2, next_at = coalesce($3, next_at), last_error = $4, updated_at = $5
       WHERE id = $6 AND state = 'pending' AND next_at = $7`,
      [c.state, c.attempts, c.nextAt, c.error, now, id, leaseUntil],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async deliveriesOfAudit(auditId: string): Promise<Delivery[]> {
    const { rows } = await this.query<DeliveryRow>("SELECT * FROM outbox WHERE audit_id = $1 ORDER BY created_at, id", [auditId]);
    return rows.map(toDelivery);
  }
}

export class PgWatchSql implements WatchSql {
  constructor(private readonly query: Query) {}

  async insertWatch(w: NewWatch & { id: string; now: number }): Promise<WatchRecord> {
    const { rows } = await this.query<WatchRow>(
      "INSERT INTO watches (id, tenant, kind, spec, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
      [w.id, w.tenant, w.kind, JSON.stringify(w.spec), w.secret, w.now],
    );
    return toWatch(rows[0]);
  }
  async watchById(id: string, tenant?: string): Promise<WatchRecord | null> {
    const { rows } =
      tenant === undefined
        ? await this.query<WatchRow>("SELECT * FROM watches WHERE id = $1", [id])
        : await this.query<WatchRow>("SELECT * FROM watches WHERE id = $1 AND tenant = $2", [id, tenant]);
    return rows[0] ? toWatch(rows[0]) : null;
  }
  async watchesOfTenant(tenant: string): Promise<WatchRecord[]> {
    return (await this.query<WatchRow>("SELECT * FROM watches WHERE tenant = $1 ORDER BY id", [tenant])).rows.map(toWatch);
  }
  async watchesOfKind(kind: WatchKind): Promise<WatchRecord[]> {
    return (await this.query<WatchRow>("SELECT * FROM watches WHERE kind = $1 ORDER BY id", [kind])).rows.map(toWatch);
  }
  async deleteWatch(tenant: string, id: string): Promise<boolean> {
    return ((await this.query("DELETE FROM watches WHERE id = $1 AND tenant = $2", [id, tenant])).rowCount ?? 0) > 0;
  }
  async insertTrigger(watchId: string, key: string, now: number, leaseUntil: number | null): Promise<boolean> {
    // One statement: a new claim, or the takeover of a pending one whose lease ended (no row otherwise).
    const r = await this.query(
      `INSERT INTO watch_triggers (watch_id, key, created_at, lease_until) VALUES ($1, $2, $3, $4)
       ON CONFLICT (watch_id, key) DO UPDATE SET created_at = excluded.created_at, lease_until = excluded.lease_until
       WHERE watch_triggers.lease_until IS NOT NULL AND watch_triggers.lease_until <= $3`,
      [watchId, key, now, leaseUntil],
    );
    return (r.rowCount ?? 0) > 0;
  }
  /** Called inside the audit's insert transaction, on its connection: the claim is settled for good. */
  async settleTriggerForAudit(t: WatchTriggerRef, on: Queryable): Promise<void> {
    await on.query("UPDATE watch_triggers SET lease_until = NULL WHERE watch_id = $1 AND key = $2", [t.watchId, t.key]);
  }
  async deleteTrigger(watchId: string, key: string): Promise<void> {
    await this.query("DELETE FROM watch_triggers WHERE watch_id = $1 AND key = $2", [watchId, key]);
  }
}
