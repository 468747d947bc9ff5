/**
 * The report of a succeeded UnitMem audit: its `sslmem.unitmem/v1` JSON as stored on the audit
 * (O(top units + layers), checked against its schema: a mismatch is a bug, `internal`), or the
 * HTML page of `sslmem units` (the same renderer), with thumbnails of the points it names. The
 * SSLMem formats junit, sarif and csv describe flagged points, which UnitMem has none of:
 * asking for them is a 406 `not_acceptable` that says which formats exist.
 */
import { SslmemError } from "../core/errors.ts";
import { UnitMemReportSchema, type UnitMemReport } from "../core/unitmem-report.ts";
import { HTML_CSP, REPORT_CONTENT_TYPES } from "../report/index.ts";
import { renderUnitMemHtml, unitMemThumbnailIds } from "../report/unitmem-html.ts";
import type { AuditRecord } from "../store/types.ts";
import { REPORT_MEDIA_TYPES, type RenderedReport, type ReportFormat } from "./report-render.ts";
import { negotiate } from "./results-format.ts";

export const UNITMEM_REPORT_FORMATS = ["json", "html"] as const;
export type UnitMemReportFormat = (typeof UNITMEM_REPORT_FORMATS)[number];

const MEDIA_TYPES: Readonly<Record<UnitMemReportFormat, string>> = { json: REPORT_MEDIA_TYPES.json, html: REPORT_MEDIA_TYPES.html };

function isUnitMemFormat(format: string): format is UnitMemReportFormat {
  return (UNITMEM_REPORT_FORMATS as readonly string[]).includes(format);
}

/** `?format=` (when given) must be json or html; otherwise Accept picks between them. */
export function negotiateUnitMemFormat(explicit: ReportFormat | undefined, accept: string | undefined): UnitMemReportFormat {
  if (explicit !== undefined && !isUnitMemFormat(explicit)) {
    throw new SslmemError("not_acceptable", `a UnitMem audit's report is json (sslmem.unitmem/v1) or html; ${explicit} describes flagged points, which UnitMem does not have`, {
      formats: [...UNITMEM_REPORT_FORMATS],
    });
  }
  return negotiate(explicit, accept, MEDIA_TYPES, "json");
}

export function loadUnitMemReport(audit: AuditRecord): UnitMemReport {
  const parsed = UnitMemReportSchema.safeParse(audit.report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SslmemError("internal", `the stored report of UnitMem audit ${audit.id} does not match sslmem.unitmem/v1 (${issue?.path.join(".")}: ${issue?.message})`);
  }
  return parsed.data;
}

export async function renderUnitMemAuditReport(
  audit: AuditRecord,
  format: UnitMemReportFormat,
  thumbnails?: (ids: readonly string[]) => Promise<Map<string, string>>,
): Promise<RenderedReport> {
  const report = loadUnitMemReport(audit);
  if (format === "json") return { body: JSON.stringify(report, null, 2) + "\n", contentType: REPORT_CONTENT_TYPES.json, headers: {} };
  const pictures = thumbnails ? await thumbnails(unitMemThumbnailIds(report)) : undefined;
  return {
    body: renderUnitMemHtml(report, { thumbnails: pictures }),
    contentType: REPORT_CONTENT_TYPES.html,
    // The page is self-contained; its CSP (also in a <meta>) forbids every external load.
    headers: { "Content-Disposition": `inline; filename="${audit.id}.html"`, "Content-Security-Policy": HTML_CSP },
  };
}
