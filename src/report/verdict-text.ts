/**
 * The words of the verdict, shared by every format (table, HTML banner, JUnit, SARIF) and the CLI
 * gate line, so a release manager reads the same statement wherever they look. The wording is
 * statistical on purpose: a point is "flagged (p = …)", never "memorized" — a flag is a test
 * outcome with a known false-positive rate, and α·n flags are expected from a clean set.
 */
import type { ReportSummary } from "../core/report.ts";
import { formatCount, formatNumber, formatPercent, formatPValue } from "./numbers.ts";

/** Where a user learns to read an audit (repository path; served by `sslmem serve` under /docs). */
export const READING_GUIDE = "docs/reading-an-audit.md";
export const READING_GUIDE_ROUTE = "/docs#reading-an-audit";

export type VerdictTone = "evidence" | "no-evidence" | "none";

/** The set-level verdict in one sentence, and its tone (for colours and exit codes). */
export function evidenceSentence(summary: ReportSummary): { tone: VerdictTone; text: string } {
  const e = summary.evidence;
  if (!e) {
    return {
      tone: "none",
      text: "no set-level verdict: the audit has no controls (held-out images neither encoder saw), so nothing says whether the scores exceed chance",
    };
  }
  const stats = `AUC ${formatNumber(e.auc, 3)} [${formatNumber(e.aucLow, 3)}, ${formatNumber(e.aucHigh, 3)}], p = ${formatPValue(e.pValue)} (one-sided Mann–Whitney, ${formatCount(e.candidates)} candidates vs ${formatCount(e.controls)} controls)`;
  if (e.evidence) {
    return {
      tone: "evidence",
      text: `evidence of memorization beyond chance at level ${formatNumber(e.level)}: ${stats}; an estimated ${formatPercent(e.excessFraction)} of the candidates score above the control distribution (at least ${formatPercent(e.excessFractionLow)})`,
    };
  }
  return { tone: "no-evidence", text: `no evidence of memorization beyond chance at level ${formatNumber(e.level)}: ${stats}` };
}

/** "12 of 410 candidates flagged (2.9%; fpr, calibrated; 4.1 expected by chance; count p = 0.003)". */
export function flagCountSentence(summary: ReportSummary): string {
  const flag = summary.flag;
  const head = `${formatCount(summary.flagged)} of ${formatCount(summary.candidates)} candidates flagged`;
  const details = [`${formatPercent(summary.flaggedFraction)}`, `${flag.method}, ${flag.calibrated ? "calibrated" : "UNCALIBRATED: no false-positive guarantee"}`];
  if (flag.expectedFalseFlags !== undefined) {
    details.push(
      flag.method === "fdr"
        ? `at most ${formatNumber(flag.expectedFalseFlags, 3)} of them expected false`
        : `${formatNumber(flag.expectedFalseFlags, 3)} expected by chance`,
    );
  }
  if (flag.countPValue !== undefined) details.push(`count p = ${formatPValue(flag.countPValue)}`);
  return `${head} (${details.join("; ")})`;
}

/** How one flagged point is named: "flagged (p = 0.0017)", or without a p-value "flagged (score ≥ cut)". */
export function flaggedLabel(p: { pValue?: number }): string {
  return p.pValue !== undefined ? `flagged (p = ${formatPValue(p.pValue)})` : "flagged (no p-value: uncalibrated method)";
}

/** Every warning a reader must see: the flags' calibration, then the encoders' health. */
export function allWarnings(summary: ReportSummary): string[] {
  return [...summary.flag.warnings, ...(summary.health?.warnings ?? [])];
}
