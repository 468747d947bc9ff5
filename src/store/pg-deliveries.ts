/** The outbox's and the watches' SQL for PostgreSQL (see delivery-dialect.ts). */
import type pg from "pg";
import {
  settlementColumns,
  toDelivery,
  toWatch,
  type DeliveryRow,
  type DeliverySql,
  type WatchRow,
  type WatchSql,
} from "./delivery-dialect.ts";
import type { Delivery, DeliverySettlement, NewDelivery } from "./outbox-types.ts";
import type { NewWatch, WatchKind, WatchRecord } from "./watch-types.ts";

type Query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

export class PgDeliverySql implements DeliverySql {
  constructor(private readonly query: Query) {}

  async insertDelivery(d: NewDelivery & { id: string; now: number }): Promise<{ delivery: Delivery; created: boolean }> {
    // One statement: the insert, or the row already under the key (a CTE sees the pre-insert snapshot).
    const { rows } = await this.query<DeliveryRow & { created: boolean }>(
      `WITH ins AS (
         INSERT INTO outbox (id, key, kind, tenant, audit_id, payload, state, attempts, next_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT (key) DO NOTHING RETURNING *)
       SELECT *, true AS created FROM ins
       UNION ALL SELECT *, false AS created FROM outbox WHERE key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [d.id, d.key, d.kind, d.tenant, d.auditId, JSON.stringify(d.payload), d.now],
    );
    if (rows.length === 0) return this.insertDelivery(d); // the conflicting row was deleted meanwhile
    return { delivery: toDelivery(rows[0]), created: rows[0].created };
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
  async insertTrigger(watchId: string, key: string, now: number): Promise<boolean> {
    const r = await this.query("INSERT INTO watch_triggers (watch_id, key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [watchId, key, now]);
    return (r.rowCount ?? 0) > 0;
  }
  async deleteTrigger(watchId: string, key: string): Promise<void> {
    await this.query("DELETE FROM watch_triggers WHERE watch_id = $1 AND key = $2", [watchId, key]);
  }
}
