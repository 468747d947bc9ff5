/**
 * The v1 report of a succeeded audit as stored: the executor stores it on the audit without its
 * per-point rows — `points`, and the `points` of the LayerMem `layers` section — since they can
 * be millions of rows and are already in the results table (with their layer rows); they are read
 * back here. Either way the result is checked against ReportV1Schema: a stored report that does
 * not match is a bug (`internal`). Used by the HTTP report route and by the OCI verdict write-back.
 */
import { SslmemError } from "../core/errors.ts";
import { ReportV1Schema, toLayerPoint, toReportPoint, type ReportPoint, type ReportV1 } from "../core/report.ts";
import type { AuditRecord, JsonObject, MeasurementStore, StoredResult } from "../store/types.ts";

function storedToReportPoint(r: StoredResult, auditId: string): ReportPoint {
  if (r.scoreNormalized === undefined || r.flagged === undefined) {
    throw new SslmemError("internal", `result ${r.index} of audit ${auditId} was never finalized`);
  }
  return toReportPoint({ ...r, scoreNormalized: r.scoreNormalized, flagged: r.flagged });
}

/** What the audit row keeps of a report: everything but the per-point rows (loadReport puts them back). */
export function storableReport(report: ReportV1): JsonObject {
  const { points: _points, layers, ...rest } = report;
  if (!layers) return rest;
  const { points: _layerPoints, ...layerSummaries } = layers;
  return { ...rest, layers: layerSummaries };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export async function loadReport(store: Pick<MeasurementStore, "iterateResults">, audit: AuditRecord): Promise<ReportV1> {
  const stored = audit.report;
  if (stored === null) throw new SslmemError("internal", `audit ${audit.id} succeeded without a report`);
  let candidate: Record<string, unknown> = stored;
  const layers = isRecord(stored.layers) ? stored.layers : undefined;
  const layersWithout = layers !== undefined && !Array.isArray(layers.points);
  if (!Array.isArray(stored.points) || layersWithout) {
    const points: ReportPoint[] = [];
    const layerPoints: ReturnType<typeof toLayerPoint>[] = [];
    for await (const row of store.iterateResults(audit.id, { layers: layersWithout })) {
      points.push(storedToReportPoint(row, audit.id));
      if (layersWithout) layerPoints.push(toLayerPoint(row));
    }
    candidate = {
      ...stored,
      ...(Array.isArray(stored.points) ? {} : { points }),
      ...(layersWithout ? { layers: { ...layers, points: layerPoints } } : {}),
    };
  }
  const parsed = ReportV1Schema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SslmemError("internal", `the stored report of audit ${audit.id} does not match report v1 (${issue?.path.join(".")}: ${issue?.message})`);
  }
  return parsed.data;
}
