/** Views of a report that several renderers need: ranked points, the plotted threshold, lookups. */
import type { ReportPoint, ReportSummary, ReportTopPoint, ReportV1 } from "../core/report.ts";

/** Highest score first; ties by id so every renderer lists the same order (as summary.top does). */
export function byScoreDescending(a: ReportPoint, b: ReportPoint): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function flaggedCandidatesByScore(report: ReportV1): ReportPoint[] {
  return report.points.filter((p) => p.role === "candidate" && p.flagged).sort(byScoreDescending);
}

export type TopRow = ReportTopPoint & { stdErr?: number };

/** The summary's top candidates with their stdErr from the point rows, in summary order. */
export function topCandidateRows(report: ReportV1): TopRow[] {
  const stdErrById = new Map<string, number>();
  for (const p of report.points) if (p.role === "candidate" && !stdErrById.has(p.id)) stdErrById.set(p.id, p.stdErr);
  return report.summary.top.map((t) => {
    const stdErr = stdErrById.get(t.id);
    return stdErr === undefined ? t : { ...t, stdErr };
  });
}

/** The flag cut on the raw score scale, if the method has one (fdr has none: its cut depends on the covariate). */
export function scoreThreshold(summary: ReportSummary): number | undefined {
  return summary.histogram.thresholdScore ?? summary.flag.threshold;
}
