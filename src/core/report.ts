/**
 * The audit report, version 1: the zod schema is the single source of truth. The TypeScript type
 * is inferred from it, the published JSON Schema (schemas/report.v1.schema.json) is generated from
 * it by scripts/gen-report-schema.ts, and buildReport validates what it builds against it. Objects
 * are strict: a field added here without a schema bump is caught by the drift test, not shipped.
 */
import { z } from "zod";
import { SslmemError } from "./errors.ts";
import { REPORT_SCHEMA_VERSION, ReportV1Schema, type FlagSummaryInput, type ReportAuditInfo, type ReportPoint, type ReportV1 } from "./report-schema.ts";
import type { PointResult } from "./scores.types.ts";
import { buildSummary } from "./summary.ts";

export * from "./report-schema.ts";

export interface ReportParts {
  audit: ReportAuditInfo;
  results: readonly PointResult[];
  flag: FlagSummaryInput;
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

/** Assembles and validates the report; a report that fails its own schema is a bug (`internal`). */
export function buildReport(parts: ReportParts): ReportV1 {
  const report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    audit: parts.audit,
    summary: buildSummary(parts.results, parts.flag),
    points: parts.results.map(toReportPoint),
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
