/**
 * The v1 report of a succeeded audit as stored: the executor stores it on the audit, without its
 * `points` when they are many (they are in the results table), and they are read back here.
 * Either way the result is checked against ReportV1Schema: a stored report that does not match
 * is a bug (`internal`). Used by the HTTP report route and by the OCI verdict write-back.
 */
import { SslmemError } from "../core/errors.ts";
import { ReportV1Schema, toReportPoint, type ReportPoint, type ReportV1 } from "../core/report.ts";
import type { AuditRecord, MeasurementStore, StoredResult } from "../store/types.ts";

function storedToReportPoint(r: StoredResult, auditId: string): ReportPoint {
  if (r.scoreNormalized === undefined || r.flagged === undefined) {
    throw new SslmemError("internal", `result ${r.index} of audit ${auditId} was never finalized`);
  }
  return toReportPoint({ ...r, scoreNormalized: r.scoreNormalized, flagged: r.flagged });
}

export async function loadReport(store: Pick<MeasurementStore, "iterateResults">, audit: AuditRecord): Promise<ReportV1> {
  const stored = audit.report;
  if (stored === null) throw new SslmemError("internal", `audit ${audit.id} succeeded without a report`);
  let candidate: Record<string, unknown> = stored;
  if (!Array.isArray(stored.points)) {
    const points: ReportPoint[] = [];
    for await (const row of store.iterateResults(audit.id)) points.push(storedToReportPoint(row, audit.id));
    candidate = { ...stored, points };
  }
  const parsed = ReportV1Schema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SslmemError("internal", `the stored report of audit ${audit.id} does not match report v1 (${issue?.path.join(".")}: ${issue?.message})`);
  }
  return parsed.data;
}
