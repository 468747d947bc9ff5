/**
 * Markdown summary of a report, for CI job summaries ($GITHUB_STEP_SUMMARY, GitLab MR notes):
 * the counts, the flag method, where the encoders came from, and the top flagged points.
 * Every value from the audit's inputs (point ids, references) goes through `markdownText`, so an
 * archive member named `x|y` or `<img src=…>` cannot change the table or inject markup.
 */
import type { ReportV1 } from "../core/report.ts";
import { allWarnings, evidenceSentence, flagCountSentence, READING_GUIDE } from "./verdict-text.ts";
import type { SourceIdentity } from "../core/source-identity.ts";
import { flagMethodLabel } from "./flag-text.ts";
import { formatCount, formatNumber, formatPercent, formatPValue, plural, shortDigest } from "./numbers.ts";
import { flaggedCandidatesByScore } from "./selection.ts";
import { displayId } from "../core/display-id.ts";

/** Top flagged points listed in the summary. */
export const MARKDOWN_TOP_POINTS = 10;

/** Text safe inside Markdown (also inside a table cell): markup characters escaped, no newlines. */
export function markdownText(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    // Inline markup only: values never start a line, so list and heading markers need no escape.
    .replace(/([\\`*_[\]|~])/g, "\\$1");
}

function encoderLine(digest: string, source: SourceIdentity | undefined): string {
  const where = source ? ` from ${markdownText(source.resolved)}` : "";
  return `${markdownText(shortDigest(digest))}${where}`;
}

export function renderMarkdown(report: ReportV1): string {
  const { summary, audit } = report;
  const flag = summary.flag;
  const lines: string[] = [];
  lines.push(`## sslmem: ${formatCount(summary.flagged)} of ${plural(summary.candidates, "candidate")} flagged`, "");
  lines.push(`**Verdict:** ${markdownText(evidenceSentence(summary).text)}.`, "");
  lines.push(`${markdownText(flagCountSentence(summary))}. How to read this audit: ${markdownText(READING_GUIDE)}.`, "");
  lines.push("| | |", "|---|---|");
  lines.push(`| Flagged | ${formatCount(summary.flagged)} (${formatPercent(summary.flaggedFraction)}) |`);
  lines.push(`| Flag method | ${flagMethodLabel(flag)}, ${flag.calibrated ? "calibrated" : "**uncalibrated** (no controls)"} |`);
  lines.push(`| Candidates / controls | ${formatCount(summary.candidates)} / ${formatCount(summary.controls)} |`);
  lines.push(`| Mean / median score | ${formatNumber(summary.meanScore)} / ${formatNumber(summary.medianScore)} |`);
  lines.push(`| Target encoder | ${encoderLine(audit.target.digest, audit.sources?.target)} |`);
  lines.push(`| Reference encoder | ${encoderLine(audit.reference.digest, audit.sources?.reference)} |`);
  lines.push(`| Audit | ${markdownText(audit.id)} |`);
  const flagged = flaggedCandidatesByScore(report);
  if (flagged.length > 0) {
    lines.push("", `### Top flagged points${flagged.length > MARKDOWN_TOP_POINTS ? ` (${MARKDOWN_TOP_POINTS} of ${formatCount(flagged.length)})` : ""}`, "");
    lines.push("| Point | Score | Normalized | p-value |", "|---|---:|---:|---:|");
    for (const p of flagged.slice(0, MARKDOWN_TOP_POINTS)) {
      lines.push(`| ${markdownText(displayId(p.id))} | ${formatNumber(p.score)} ± ${formatNumber(p.stdErr, 2)} | ${formatNumber(p.scoreNormalized)} | ${formatPValue(p.pValue)} |`);
    }
  }
  const warnings = allWarnings(summary);
  if (warnings.length > 0) {
    lines.push("", "### Warnings", "");
    for (const w of warnings) lines.push(`- ${markdownText(w)}`);
  }
  return `${lines.join("\n")}\n`;
}
