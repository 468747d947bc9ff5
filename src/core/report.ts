/**
 * The audit report, version 1: the zod schema is the single source of truth. The TypeScript type
 * is inferred from it, the published JSON Schema (schemas/report.v1.schema.json) is generated from
 * it by scripts/gen-report-schema.ts, and buildReport validates what it builds against it. Objects
 * are strict: a field added here without a schema bump is caught by the drift test, not shipped.
 */
import { z } from "zod";
import { SslmemError } from "./errors.ts";
import {
  REPORT_SCHEMA_VERSION,
  ReportV1Schema,
  type FlagSummaryInput,
  type ReportAuditInfo,
  type ReportHealth,
  type ReportLayers,
  type ReportPoint,
  type ReportV1,
} from "./report-schema.ts";
import { summarizeLayers, type LayerDescription } from "./layermem.ts";
import type { PointMeasurement, PointResult } from "./scores.types.ts";
import { buildSummary } from "./summary.ts";

export * from "./report-schema.ts";

export interface ReportParts {
  audit: ReportAuditInfo;
  results: readonly PointResult[];
  flag: FlagSummaryInput;
  /** LayerMem: the measured layers (every result then carries `layers`). */
  layers?: readonly LayerDescription[];
  /** Encoder health diagnostics, when they were measured. */
  health?: ReportHealth;
}

export function toReportPoint(r: PointResult): ReportPoint {
  return {
    id: r.id,
    role: r.role,
    alignTarget: r.alignTarget,
    alignReference: r.alignReference,
    score: r.score,
    stdErr: r.stdErr,
    scoreNormalized: r.scoreNormalized,
    ...(r.pValue !== undefined ? { pValue: r.pValue } : {}),
    flagged: r.flagged,
  };
}

/** A point's row of the layers section: its LayerMem on each layer, in layer order. */
export function toLayerPoint(r: PointMeasurement): ReportLayers["points"][number] {
  return { id: r.id, role: r.role, scores: (r.layers ?? []).map((l) => l.score), stdErrs: (r.layers ?? []).map((l) => l.stdErr) };
}

function layersSection(layers: readonly LayerDescription[], results: readonly PointResult[], pooling: ReportLayers["pooling"]): ReportLayers {
  return { pooling, layers: summarizeLayers(layers, results), points: results.map(toLayerPoint) };
}

/** Assembles and validates the report; a report that fails its own schema is a bug (`internal`). */
export function buildReport(parts: ReportParts): ReportV1 {
  const report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    audit: parts.audit,
    summary: {
      ...buildSummary(parts.results, parts.flag, { evidenceLevel: parts.audit.config.evidenceLevel }),
      ...(parts.health ? { health: parts.health } : {}),
    },
    points: parts.results.map(toReportPoint),
    ...(parts.layers ? { layers: layersSection(parts.layers, parts.results, parts.audit.config.pool) } : {}),
  };
  const parsed = ReportV1Schema.safeParse(report);
  if (!parsed.success) {
    throw new SslmemError("internal", "the audit report does not match its schema", {
      issues: parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  return parsed.data;
}

/** The JSON Schema (draft 2020-12) of report v1, generated from ReportV1Schema. */
export function reportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ReportV1Schema, { target: "draft-2020-12", io: "output" }) as Record<string, unknown>;
}

/** The schema file's exact text (2-space JSON, trailing newline), shared by the generator and its drift test. */
export function reportJsonSchemaText(): string {
  return JSON.stringify(reportJsonSchema(), null, 2) + "\n";
}
