/**
 * Report renderers: one v1 report in any of the formats the CLI writes and the HTTP API serves.
 * Renderers are pure (report in, text out) and trust the report to match ReportV1Schema: reports
 * come from buildReport or from the store, and a saved report read from disk is parsed by its
 * caller first.
 */
import type { ReportV1 } from "../core/report.ts";
import { renderCodequality } from "./codequality.ts";
import { renderCsv } from "./csv.ts";
import { renderHtml } from "./html.ts";
import { renderJson } from "./json.ts";
import { renderJunit } from "./junit.ts";
import { formatTable } from "./media-types.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderSarif } from "./sarif.ts";
import { renderTable } from "./table.ts";

export const REPORT_RENDER_FORMATS = ["json", "html", "junit", "sarif", "csv", "table", "markdown", "codequality"] as const;
export type ReportRenderFormat = (typeof REPORT_RENDER_FORMATS)[number];

export const REPORT_CONTENT_TYPES: Readonly<Record<ReportRenderFormat, string>> = formatTable(REPORT_RENDER_FORMATS, "contentType");

export interface RenderOptions {
  /** Point id → data: URI of a small PNG/JPEG/WebP thumbnail (makeThumbnail), shown by the HTML report. */
  thumbnails?: ReadonlyMap<string, string>;
}

export function renderReport(report: ReportV1, format: ReportRenderFormat, opts: RenderOptions = {}): string {
  switch (format) {
    case "json":
      return renderJson(report);
    case "html":
      return renderHtml(report, opts);
    case "junit":
      return renderJunit(report);
    case "sarif":
      return renderSarif(report);
    case "csv":
      return renderCsv(report.points);
    case "table":
      return renderTable(report);
    case "markdown":
      return renderMarkdown(report);
    case "codequality":
      return renderCodequality(report);
  }
}

export { csvHeader, csvRow, CSV_REPORT_COLUMNS } from "./csv.ts";
export { HTML_CSP } from "./html.ts";
