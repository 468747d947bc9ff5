/** The unit rows' SQL for PostgreSQL (see unit-result-types.ts). */
import type pg from "pg";
import { UNIT_RESULT_COLUMNS, toUnitResult, type UnitResult, type UnitResultRowOf, type UnitResultSql } from "./unit-result-types.ts";

type Queryable = Pick<pg.ClientBase, "query">;
type Query = <R extends pg.QueryResultRow>(sql: string, params?: unknown[], on?: Queryable) => Promise<pg.QueryResult<R>>;
type Transaction = <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

/** Rows per INSERT … SELECT unnest(…): well below PostgreSQL's parameter and message limits. */
const WRITE_CHUNK = 5000;

export class PgUnitResultSql implements UnitResultSql {
  constructor(
    private readonly query: Query,
    private readonly transaction: Transaction,
  ) {}

  async upsert(auditId: string, rows: readonly UnitResult[]): Promise<boolean> {
    return this.transaction(async (c) => {
      // KEY SHARE: a concurrent DELETE of the audit waits for these rows (then cascades them away).
      if ((await this.query("SELECT 1 FROM audits WHERE id = $1 FOR KEY SHARE", [auditId], c)).rows.length === 0) return false;
      for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
        const part = rows.slice(i, i + WRITE_CHUNK);
        await this.query(
          `INSERT INTO audit_unit_results (audit_id, idx, layer, unit, unit_mem, point_id, mu_max, mu_others)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::text[], $7::float8[], $8::float8[])
           ON CONFLICT (audit_id, idx) DO UPDATE SET
             layer = excluded.layer, unit = excluded.unit, unit_mem = excluded.unit_mem, point_id = excluded.point_id,
             mu_max = excluded.mu_max, mu_others = excluded.mu_others`,
          [
            auditId,
            part.map((r) => r.index),
            part.map((r) => r.layer),
            part.map((r) => r.unit),
            part.map((r) => r.unitMem),
            part.map((r) => r.point),
            part.map((r) => r.muMax),
            part.map((r) => r.muOthers),
          ],
          c,
        );
      }
      return true;
    });
  }

  async afterIndex(auditId: string, layer: string | null, after: number, limit: number): Promise<UnitResult[]> {
    const { rows } = await this.query<UnitResultRowOf>(
      `SELECT ${UNIT_RESULT_COLUMNS} FROM audit_unit_results
       WHERE audit_id = $1 AND idx > $2 AND ($3::text IS NULL OR layer = $3) ORDER BY idx LIMIT $4`,
      [auditId, after, layer, limit],
    );
    return rows.map(toUnitResult);
  }

  async byUnitMem(auditId: string, layer: string | null, limit: number, offset: number): Promise<UnitResult[]> {
    const { rows } = await this.query<UnitResultRowOf>(
      `SELECT ${UNIT_RESULT_COLUMNS} FROM audit_unit_results
       WHERE audit_id = $1 AND ($2::text IS NULL OR layer = $2) ORDER BY unit_mem DESC, idx LIMIT $3 OFFSET $4`,
      [auditId, layer, limit, offset],
    );
    return rows.map(toUnitResult);
  }

  async count(auditId: string): Promise<number> {
    const { rows } = await this.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_unit_results WHERE audit_id = $1", [auditId]);
    return rows[0].n;
  }
}
