/** The unit rows' SQL for SQLite (see unit-result-types.ts). */
import type Database from "better-sqlite3";
import { UNIT_RESULT_COLUMNS, toUnitResult, type UnitResult, type UnitResultRowOf, type UnitResultSql } from "./unit-result-types.ts";

type Prepare = (sql: string) => Database.Statement;

export class SqliteUnitResultSql implements UnitResultSql {
  constructor(
    private readonly stmt: Prepare,
    private readonly write: <T>(fn: () => T) => T,
  ) {}

  async upsert(auditId: string, rows: readonly UnitResult[]): Promise<boolean> {
    return this.write(() => {
      if (!this.stmt("SELECT 1 FROM audits WHERE id = ?").get(auditId)) return false;
      const upsert = this.stmt(
        `INSERT INTO audit_unit_results (audit_id, idx, layer, unit, unit_mem, point_id, mu_max, mu_others)
         VALUES (@auditId, @index, @layer, @unit, @unitMem, @point, @muMax, @muOthers)
         ON CONFLICT (audit_id, idx) DO UPDATE SET
           layer = excluded.layer, unit = excluded.unit, unit_mem = excluded.unit_mem, point_id = excluded.point_id,
           mu_max = excluded.mu_max, mu_others = excluded.mu_others`,
      );
      for (const r of rows) upsert.run({ auditId, ...r });
      return true;
    });
  }

  async afterIndex(auditId: string, layer: string | null, after: number, limit: number): Promise<UnitResult[]> {
    return (
      this.stmt(
        `SELECT ${UNIT_RESULT_COLUMNS} FROM audit_unit_results
         WHERE audit_id = @auditId AND idx > @after AND (@layer IS NULL OR layer = @layer) ORDER BY idx LIMIT @limit`,
      ).all({ auditId, layer, after, limit }) as UnitResultRowOf[]
    ).map(toUnitResult);
  }

  async byUnitMem(auditId: string, layer: string | null, limit: number, offset: number): Promise<UnitResult[]> {
    return (
      this.stmt(
        `SELECT ${UNIT_RESULT_COLUMNS} FROM audit_unit_results
         WHERE audit_id = @auditId AND (@layer IS NULL OR layer = @layer) ORDER BY unit_mem DESC, idx LIMIT @limit OFFSET @offset`,
      ).all({ auditId, layer, limit, offset }) as UnitResultRowOf[]
    ).map(toUnitResult);
  }

  async count(auditId: string): Promise<number> {
    return Number(this.stmt("SELECT count(*) FROM audit_unit_results WHERE audit_id = ?").pluck().get(auditId));
  }
}
