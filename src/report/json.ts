/** The v1 report as pretty JSON: the stored model verbatim, 2-space indented, newline-terminated. */
import type { ReportV1 } from "../core/report.ts";

export function renderJson(report: ReportV1): string {
  return JSON.stringify(report, null, 2) + "\n";
}
