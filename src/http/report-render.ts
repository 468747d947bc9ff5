/**
 * The report of a succeeded audit in the requested format, through the shared renderers
 * (src/report). The executor stores the v1 report on the audit; when it stores it without its
 * `points` (they can be millions of rows, and they are already in the results table), the points
 * are read back from the store here. Either way the result is checked against ReportV1Schema: a
 * stored report that does not match is a bug (`internal`, logged), never a half-rendered page.
 * The HTML format gets thumbnails of the listed candidates from report-thumbnails.ts.
 */
import type { ReportV1 } from "../core/report.ts";
import { HTML_CSP, REPORT_CONTENT_TYPES, renderReport } from "../report/index.ts";
import { loadReport } from "../report/stored-report.ts";
import { formatTable } from "../report/media-types.ts";
import type { AuditRecord, MeasurementStore } from "../store/types.ts";

export { loadReport };

export const REPORT_FORMATS = ["json", "html", "junit", "sarif", "csv"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Media type of each format without parameters (what Accept names). */
export const REPORT_MEDIA_TYPES: Readonly<Record<ReportFormat, string>> = formatTable(REPORT_FORMATS, "mediaType");

export const REPORT_FILE_EXTENSIONS: Readonly<Record<ReportFormat, string>> = formatTable(REPORT_FORMATS, "extension");

export interface RenderedReport {
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

export async function renderAuditReport(
  store: Pick<MeasurementStore, "iterateResults">,
  audit: AuditRecord,
  format: ReportFormat,
  thumbnails?: (report: ReportV1) => Promise<Map<string, string>>,
): Promise<RenderedReport> {
  const report = await loadReport(store, audit);
  const headers: Record<string, string> =
    format === "json" ? {} : { "Content-Disposition": `inline; filename="${audit.id}.${REPORT_FILE_EXTENSIONS[format]}"` };
  // The page is self-contained; its CSP (also in a <meta>) forbids every external load.
  if (format === "html") headers["Content-Security-Policy"] = HTML_CSP;
  const pictures = format === "html" && thumbnails ? await thumbnails(report) : undefined;
  return { body: renderReport(report, format, { thumbnails: pictures }), contentType: REPORT_CONTENT_TYPES[format], headers };
}
