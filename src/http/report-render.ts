/**
 * The report of a succeeded audit in the requested format.
 *
 * TODO(lead): wire `renderReport(report: ReportV1, format)` from src/report/index.ts here for
 * html, junit, sarif and csv (and for json, if the renderer adds anything to the stored report).
 * Until then only json is served and the other formats answer 406 `not_acceptable`.
 */
import { SslmemError } from "../core/errors.ts";
import type { AuditRecord } from "../store/types.ts";

export const REPORT_FORMATS = ["json", "html", "junit", "sarif", "csv"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const REPORT_MEDIA_TYPES: Readonly<Record<ReportFormat, string>> = {
  json: "application/json",
  html: "text/html",
  junit: "application/xml",
  sarif: "application/sarif+json",
  csv: "text/csv",
};

export const REPORT_FILE_EXTENSIONS: Readonly<Record<ReportFormat, string>> = {
  json: "json",
  html: "html",
  junit: "xml",
  sarif: "sarif",
  csv: "csv",
};

export async function renderAuditReport(audit: AuditRecord, format: ReportFormat): Promise<string> {
  if (audit.report === null) throw new SslmemError("internal", `audit ${audit.id} succeeded without a report`);
  if (format === "json") return JSON.stringify(audit.report);
  throw new SslmemError("not_acceptable", `the ${format} report is not available on this server yet; ask for json`);
}
