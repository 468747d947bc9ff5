/**
 * The terminal summary `sslmem audit` prints by default: what was audited, how flags were decided
 * (and whether they can be trusted), the score distribution as a text histogram, and the top
 * candidates. Lines are at most TABLE_WIDTH cells (one cell per code point); ids are cut in the
 * middle and stripped of terminal control characters.
 */
import { displayId } from "../core/display-id.ts";
import type { ReportV1 } from "../core/report.ts";
import { flagMethodLabel } from "./flag-text.ts";
import { allWarnings, evidenceSentence, flagCountSentence, READING_GUIDE } from "./verdict-text.ts";
import { formatCount, formatNumber, formatPValue, shortDigest } from "./numbers.ts";
import { scoreThreshold, topCandidateRows } from "./selection.ts";
import { padLeft, padRight, terminalSafe, truncateMiddle, wrap } from "./terminal-text.ts";

export const TABLE_WIDTH = 100;
const BAR_WIDTH = 44;
const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

function bar(value: number, max: number): string {
  if (max === 0 || value === 0) return "";
  const eighths = Math.max(1, Math.round((value / max) * BAR_WIDTH * 8));
  return "█".repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** Bin edges with one fixed number of decimals, enough to tell neighbouring edges apart. */
function edgeFormatter(range: number): (x: number) => string {
  const width = range / 20;
  if (!(width > 0) || width < 1e-6 || range >= 1e5) return (x) => formatNumber(x);
  const decimals = Math.max(0, Math.ceil(-Math.log10(width)) + 1);
  return (x) => x.toFixed(decimals);
}

/** `label  value` with the value wrapped under itself when it is too long. */
function field(label: string, value: string): string[] {
  const indent = "  " + " ".repeat(12);
  return wrap(terminalSafe(value), TABLE_WIDTH - indent.length).map((l, i) => (i === 0 ? "  " + padRight(label, 12) : indent) + l);
}

function header(report: ReportV1): string[] {
  const { audit, summary } = report;
  const flag = summary.flag;
  const encoder = (e: ReportV1["audit"]["target"]) =>
    `${shortDigest(e.digest)}  (${e.representation.output}, pooling ${e.representation.pooling}, dim ${e.representation.dim})`;
  const skipped = (n: number) => (n > 0 ? ` (${formatCount(n)} skipped)` : "");
  const lines = [
    terminalSafe(truncateMiddle(`sslmem audit ${audit.id}  ·  ${audit.created}`, TABLE_WIDTH)),
    "",
    ...field("target", encoder(audit.target)),
    ...field("reference", encoder(audit.reference)),
    ...field("provider", `${audit.provider} (onnxruntime ${audit.engine.version})`),
    ...field("candidates", formatCount(summary.candidates) + skipped(audit.candidatesSource.skipped)),
    ...field("controls", formatCount(summary.controls) + skipped(audit.controlsSource?.skipped ?? 0)),
    ...field("flags", `${flagMethodLabel(flag)} — ${flag.calibrated ? "calibrated" : "UNCALIBRATED"}`),
    ...field("scores", `mean ${formatNumber(summary.meanScore)}, median ${formatNumber(summary.medianScore)}`),
    ...field("flagged", flagCountSentence(summary)),
    ...field("verdict", evidenceSentence(summary).text),
    ...field("guide", `how to read this audit: ${READING_GUIDE}`),
  ];
  const named = [...(audit.candidatesSource.skippedFiles ?? []), ...(audit.controlsSource?.skippedFiles ?? [])];
  const skippedTotal = audit.candidatesSource.skipped + (audit.controlsSource?.skipped ?? 0);
  if (skippedTotal > 0) {
    const shown = named.slice(0, 5).map((f) => `${f.id} (${f.reason})`);
    const more = skippedTotal - shown.length;
    lines.push(...field("skipped", `${shown.join("; ")}${more > 0 ? `; and ${formatCount(more)} more (every one is named in the JSON report)` : ""}`));
  }
  for (const w of allWarnings(summary)) lines.push("", ...wrap(`warning: ${terminalSafe(w)}`, TABLE_WIDTH - 2, "           ").map((l) => "  " + l));
  return lines;
}

function histogram(report: ReportV1): string[] {
  const { histogram, controls } = report.summary;
  const threshold = scoreThreshold(report.summary);
  const max = Math.max(...histogram.bins.map((b) => b.count));
  const last = histogram.bins.length - 1;
  const withControls = controls > 0;
  const lines = [
    `Score histogram (rows: lower bin edge; bars: candidates${withControls ? "; ctl: controls in the same bin" : ""})`,
  ];
  const lo = histogram.bins[0].lo;
  const hi = histogram.bins[last].hi;
  const edge = edgeFormatter(hi - lo);
  histogram.bins.forEach((b, i) => {
    const holdsThreshold = threshold !== undefined && threshold >= b.lo && (threshold < b.hi || (i === last && threshold <= b.hi));
    let line = `  ${padLeft(edge(b.lo), 10)} │${padRight(bar(b.count, max), BAR_WIDTH)} ${padLeft(formatCount(b.count), 6)}`;
    if (withControls) line += `   ctl ${padLeft(formatCount(b.controls), 6)}`;
    if (holdsThreshold) line += "  ◄ threshold";
    lines.push(line);
  });
  lines.push(`  ${padLeft(edge(hi), 10)} ┴ max`);
  if (threshold !== undefined) {
    const where = threshold > hi ? " (above every candidate score)" : threshold < lo ? " (below every candidate score)" : "";
    lines.push(`  flag threshold on the score scale: ${formatNumber(threshold)}${where}`);
  } else {
    lines.push(`  no single score threshold: ${report.summary.flag.method} flags depend on more than the score`);
  }
  if (histogram.controlsBelow + histogram.controlsAbove > 0) {
    lines.push(`  controls outside the candidates' range: ${formatCount(histogram.controlsBelow)} below, ${formatCount(histogram.controlsAbove)} above`);
  }
  return lines;
}

function topTable(report: ReportV1): string[] {
  const rows = topCandidateRows(report);
  // rank, id, score, stdErr, normalized, p-value, flag: widths chosen to total TABLE_WIDTH.
  const w = { rank: 3, id: 38, score: 10, stdErr: 9, norm: 10, p: 9, flag: 7 };
  const cells = (c: string[]) =>
    "  " +
    [
      padLeft(c[0], w.rank),
      padRight(c[1], w.id),
      padLeft(c[2], w.score),
      padLeft(c[3], w.stdErr),
      padLeft(c[4], w.norm),
      padLeft(c[5], w.p),
      padRight(c[6], w.flag),
    ].join("  ").trimEnd();
  const lines = [`Top ${rows.length} candidates by score`, cells(["#", "id", "score", "stdErr", "normalized", "p-value", "flag"])];
  rows.forEach((r, i) => {
    lines.push(
      cells([
        String(i + 1),
        truncateMiddle(terminalSafe(displayId(r.id)), w.id),
        formatNumber(r.score),
        r.stdErr === undefined ? "—" : formatNumber(r.stdErr, 2),
        formatNumber(r.scoreNormalized, 3),
        formatPValue(r.pValue),
        r.flagged ? "FLAGGED" : "",
      ]),
    );
  });
  return lines;
}

export function renderTable(report: ReportV1): string {
  return [...header(report), "", ...histogram(report), "", ...topTable(report)].join("\n") + "\n";
}
