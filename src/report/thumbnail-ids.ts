/** Which candidates the HTML page shows pictures of: its flagged table, else the top points. */
import type { ReportV1 } from "../core/report.ts";
import { HTML_FLAGGED_LIMIT } from "./html.ts";
import { flaggedCandidatesByScore } from "./selection.ts";

export function thumbnailIds(report: ReportV1): string[] {
  const flagged = flaggedCandidatesByScore(report).slice(0, HTML_FLAGGED_LIMIT).map((p) => p.id);
  return flagged.length > 0 ? flagged : report.summary.top.map((t) => t.id);
}
