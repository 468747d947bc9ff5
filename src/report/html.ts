/**
 * The HTML report: one self-contained page (inline CSS and SVG, thumbnails as data: URIs, no
 * script) that a reviewer can open from a CI artifact or an e-mail attachment with no network.
 * A Content-Security-Policy meta tag forbids everything but inline styles and data: images, so a
 * markup injection that slipped past escaping could still load and run nothing.
 *
 * Every string that comes from the report (ids, warnings, source kinds, the audit id) is escaped
 * with escapeMarkup; numbers are formatted, never interpolated raw from user input.
 */
import { displayId } from "../core/display-id.ts";
import type { ReportPoint, ReportV1 } from "../core/report.ts";
import type { AugmentationOp, AugmentationPolicy } from "../core/policy.ts";
import { allWarnings, evidenceSentence, flagCountSentence, READING_GUIDE, READING_GUIDE_ROUTE } from "./verdict-text.ts";
import { describeFlagMethod, flagParameterPairs } from "./flag-text.ts";
import { renderHistogramSvg } from "./html-histogram.ts";
import { layersHtmlSection } from "./html-layers.ts";
import { HTML_REPORT_CSS } from "./html-style.ts";
import { escapeMarkup as esc } from "./markup.ts";
import { formatCount, formatNumber, formatPercent, formatPValue, plural } from "./numbers.ts";
import { flaggedCandidatesByScore, scoreThreshold, topCandidateRows, type TopRow } from "./selection.ts";

export const HTML_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";
/** Flagged candidates listed in the page; the CSV/JSON reports carry all of them. */
export const HTML_FLAGGED_LIMIT = 50;

export interface HtmlOptions {
  /** Point id → data: URI of a small thumbnail (see thumbnails.ts). */
  thumbnails?: ReadonlyMap<string, string>;
}

const THUMBNAIL_URI = /^data:image\/(?:png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$/;

/** Only a base64 PNG/JPEG/WebP data URI is allowed as an img src; anything else is dropped. */
export function safeThumbnailUri(uri: string | undefined): string | undefined {
  return uri !== undefined && THUMBNAIL_URI.test(uri) ? uri : undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function kv(pairs: Array<[string, string]>): string {
  return `<dl class="kv">${pairs.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function calibrationBadge(calibrated: boolean): string {
  return calibrated ? `<span class="badge ok">calibrated</span>` : `<span class="badge warn">uncalibrated</span>`;
}

function headerSection(report: ReportV1): string {
  const { audit, summary } = report;
  const evidence = evidenceSentence(summary);
  const tone = evidence.tone === "evidence" ? "bad" : evidence.tone === "none" ? "warn" : "ok";
  const verdict = `<div class="verdict ${tone}"><strong>${esc(capitalize(evidence.text))}</strong><span>${esc(flagCountSentence(summary))}</span>${calibrationBadge(summary.flag.calibrated)}<span><a href="${esc(READING_GUIDE_ROUTE)}">How to read this audit</a> (${esc(READING_GUIDE)})</span></div>`;
  return `<header>
  <div>
    <h1>SSLMem memorization audit</h1>
    <div class="meta">Audit <code>${esc(audit.id)}</code> · created ${esc(audit.created)}</div>
  </div>
  <div class="meta">flag method <strong>${esc(summary.flag.method)}</strong></div>
</header>
${verdict}`;
}

function card(label: string, value: string, sub: string, cls = ""): string {
  return `<div class="card${cls ? " " + cls : ""}"><div class="label">${label}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`;
}

function cardsSection(report: ReportV1): string {
  const { audit, summary } = report;
  const source = (s: { kind: string; skipped: number } | undefined) =>
    s === undefined ? "none given" : `${esc(s.kind)}${s.skipped > 0 ? `, ${formatCount(s.skipped)} skipped` : ""}`;
  return `<section class="cards">
${card("Candidates", formatCount(summary.candidates), source(audit.candidatesSource))}
${card("Controls", formatCount(summary.controls), summary.controls > 0 ? source(audit.controlsSource) : "none: flags uncalibrated")}
${card("Flagged", formatCount(summary.flagged), `${formatPercent(summary.flaggedFraction)} of candidates`, summary.flagged > 0 ? "flagged" : "")}
${card("Mean score", formatNumber(summary.meanScore), "candidates")}
${card("Median score", formatNumber(summary.medianScore), "candidates")}
</section>`;
}

function warningsCallout(warnings: readonly string[]): string {
  if (warnings.length === 0) return "";
  return `<div class="callout" role="note"><p><strong>Warnings</strong></p><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></div>`;
}

function flagSection(report: ReportV1): string {
  const flag = report.summary.flag;
  const threshold = scoreThreshold(report.summary);
  const rows: Array<[string, string]> = [
    ["method", `<strong>${esc(flag.method)}</strong> ${calibrationBadge(flag.calibrated)}`],
    ...flagParameterPairs(flag).map(([k, v]): [string, string] => [esc(k), `<span class="mono">${esc(v)}</span>`]),
    ["score threshold", threshold !== undefined ? `<span class="mono">${formatNumber(threshold)}</span>` : `<span class="muted">none: the cut depends on more than the score</span>`],
  ];
  const why = flag.calibrated
    ? "The flags are calibrated against the controls (held-out images neither encoder saw)."
    : "The flags are <strong>not calibrated</strong>: without controls there is no false-positive or false-discovery guarantee. Treat them as a ranking of outliers.";
  return `<section>
<h2>Flags</h2>
<p>${esc(capitalize(describeFlagMethod(flag.method)))}. ${why}</p>
${kv(rows)}
${warningsCallout(allWarnings(report.summary))}
</section>`;
}

function histogramSection(report: ReportV1): string {
  const { summary } = report;
  const threshold = scoreThreshold(summary);
  const h = summary.histogram;
  const legend = [
    `<span><i class="swatch candidates"></i>candidates</span>`,
    summary.controls > 0 ? `<span><i class="swatch controls"></i>controls</span>` : "",
    threshold !== undefined ? `<span><i class="swatch threshold"></i>flag threshold</span>` : "",
    summary.flagged > 0 ? `<span><i class="swatch flagged"></i>flagged candidates</span>` : "",
  ].join("");
  const notes: string[] = [
    `${h.bins.length} equal-width bins over the candidates' score range. Higher scores mean the target encoder maps augmented views of the image much closer together than the reference encoder does: memorization.`,
  ];
  if (summary.controls > 0) notes.push("Bars and outline show each group's share of its own points, so groups of different sizes compare directly.");
  if (h.controlsBelow + h.controlsAbove > 0) {
    notes.push(`Outside the candidates' range and not drawn: ${plural(h.controlsBelow, "control")} below, ${plural(h.controlsAbove, "control")} above.`);
  }
  if (threshold === undefined) notes.push(`The ${esc(summary.flag.method)} method has no single score cut; the red ticks mark the flagged candidates' scores.`);
  return `<section>
<h2>Score distribution</h2>
<figure class="chart">
<div class="legend">${legend}</div>
${renderHistogramSvg(report)}
<figcaption>${notes.join(" ")}</figcaption>
</figure>
</section>`;
}

function calibrationSection(report: ReportV1): string {
  const d = report.summary.flag.diagnostics;
  if (!d) return "";
  const details: Array<[string, string]> = [
    ["controls", formatCount(d.controls)],
    ["null covariate", esc(d.covariate)],
  ];
  if (d.neighbors !== undefined) details.push(["neighbours per local window", formatCount(d.neighbors)]);
  if (d.qqMaxAbsDeviation !== undefined) details.push(["QQ max |empirical − fitted|", formatNumber(d.qqMaxAbsDeviation, 3)]);
  const ratio = d.looExpectedRate > 0 ? d.looFalseFlagRate / d.looExpectedRate : undefined;
  const qq = d.qq?.length
    ? `<h3>Quantiles of the controls' standardized scores vs the fitted null</h3>
<table class="compact"><thead><tr><th class="num">quantile</th><th class="num">empirical</th><th class="num">fitted</th><th class="num">difference</th></tr></thead><tbody>
${d.qq.map((r) => `<tr><td class="num">${formatNumber(r.quantile, 3)}</td><td class="num">${formatNumber(r.empirical)}</td><td class="num">${formatNumber(r.fitted)}</td><td class="num">${formatNumber(r.empirical - r.fitted, 3)}</td></tr>`).join("\n")}
</tbody></table>`
    : "";
  const tail = d.tail
    ? `<h3>Tail model of the null</h3>
${kv([
  ["family", esc(d.tail.family)],
  ["threshold u (standardized)", formatNumber(d.tail.threshold)],
  ["scale σ", formatNumber(d.tail.scale)],
  ["shape ξ", formatNumber(d.tail.shape)],
  ["exceedances fitted", formatCount(d.tail.exceedances)],
])}`
    : "";
  return `<section>
<h2>Calibration</h2>
<p>Each control is scored as if it were a candidate, against a null fitted without it (leave-one-out). With a well-fitted null the fraction of controls flagged matches the expected rate.</p>
<div class="cards">
${card("LOO false-flag rate", formatPercent(d.looFalseFlagRate), `${plural(Math.round(d.looFalseFlagRate * d.controls), "control")} of ${formatCount(d.controls)} flagged at the candidates' cut`)}
${card("Expected rate", formatPercent(d.looExpectedRate), `${formatNumber(d.looExpectedRate * d.controls, 3)} of ${formatCount(d.controls)} under correct calibration`)}
${ratio !== undefined ? card("Ratio", `${formatNumber(ratio, 3)}×`, "observed / expected") : ""}
</div>
<div class="two-col">
<div><h3>Null model</h3>${kv(details)}${tail}</div>
<div>${qq}</div>
</div>
</section>`;
}

function thumbnailCell(id: string, opts: HtmlOptions): string {
  const uri = safeThumbnailUri(opts.thumbnails?.get(id));
  return uri
    ? `<td><div class="thumb"><img src="${esc(uri)}" alt="thumbnail of ${esc(displayId(id))}"></div></td>`
    : `<td><div class="thumb none">no image</div></td>`;
}

type Row = Pick<ReportPoint, "id" | "score" | "scoreNormalized" | "pValue" | "flagged"> & { stdErr?: number };

function pointsSection(report: ReportV1, opts: HtmlOptions): string {
  const flagged = flaggedCandidatesByScore(report);
  const rows: Row[] = flagged.length > 0 ? flagged.slice(0, HTML_FLAGGED_LIMIT) : topCandidateRows(report);
  const title = flagged.length > 0 ? "Top flagged candidates" : "Top candidates by score (none flagged)";
  const note =
    flagged.length > HTML_FLAGGED_LIMIT
      ? `<p class="muted">Showing the ${HTML_FLAGGED_LIMIT} highest-scoring of ${formatCount(flagged.length)} flagged candidates; the CSV and JSON reports list every point.</p>`
      : `<p class="muted">Sorted by score, highest first. The CSV and JSON reports list every point.</p>`;
  const withThumbs = opts.thumbnails !== undefined && opts.thumbnails.size > 0;
  const body = rows
    .map((r: TopRow | Row, i) => {
      const se = r.stdErr !== undefined ? ` <span class="muted">± ${formatNumber(r.stdErr, 2)}</span>` : "";
      return `<tr>
<td class="num">${i + 1}</td>
${withThumbs ? thumbnailCell(r.id, opts) : ""}<td class="id mono">${esc(displayId(r.id))}</td>
<td class="num">${formatNumber(r.score)}${se}</td>
<td class="num">${formatNumber(r.scoreNormalized, 3)}</td>
<td class="num">${formatPValue(r.pValue)}</td>
<td>${r.flagged ? `<span class="badge bad">flagged</span>` : `<span class="muted">—</span>`}</td>
</tr>`;
    })
    .join("\n");
  return `<section>
<h2>${title}</h2>
${note}
<table>
<thead><tr><th class="num">#</th>${withThumbs ? "<th>image</th>" : ""}<th>id</th><th class="num">score ± stdErr</th><th class="num">normalized</th><th class="num">p-value</th><th>status</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
</section>`;
}

function opText(op: AugmentationOp): string {
  const params = Object.entries(op)
    .filter(([k]) => k !== "op")
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.map((n) => formatNumber(n, 3)).join("–") : typeof v === "number" ? formatNumber(v, 3) : String(v)}`);
  return params.length > 0 ? `${op.op} (${params.join(", ")})` : op.op;
}

function policyText(policy: AugmentationPolicy): string {
  const list = (ops: readonly AugmentationOp[]) => (ops.length === 0 ? "none" : ops.map(opText).join(" → "));
  return policy.secondViewOps ? `first view: ${list(policy.ops)}; second view: ${list(policy.secondViewOps)}` : list(policy.ops);
}

function detailsSection(report: ReportV1): string {
  const { audit } = report;
  const c = audit.config;
  const p = audit.preprocessing;
  const encoder = (e: ReportV1["audit"]["target"]) =>
    `<span class="mono">${esc(e.digest)}</span><br><span class="muted">output ${esc(e.representation.output)}, pooling ${esc(e.representation.pooling)}, dim ${formatCount(e.representation.dim)}; input ${e.inputs
      .map((t) => `${esc(t.name)} [${t.shape.map((s) => esc(String(s))).join(", ")}]`)
      .join(", ")}</span>`;
  const triple = (v: readonly number[]) => `(${v.map((n) => formatNumber(n, 3)).join(", ")})`;
  const left: Array<[string, string]> = [
    ["audit id", `<span class="mono">${esc(audit.id)}</span>`],
    ["created", esc(audit.created)],
    ["target encoder", encoder(audit.target)],
    ["reference encoder", encoder(audit.reference)],
    ["execution", `${esc(audit.provider)} · ${esc(audit.engine.name)} ${esc(audit.engine.version)}`],
    ["preprocessing", `${p.height}×${p.width} ${esc(p.layout)}, range [${formatNumber(p.range[0])}, ${formatNumber(p.range[1])}], mean ${triple(p.mean)}, std ${triple(p.std)}`],
  ];
  const right: Array<[string, string]> = [
    ["seed", String(c.seed)],
    ["views", `${c.views} ${c.pairing === "views" ? "view pairs" : "views against the original"} per point (pairing ${esc(c.pairing)})`],
    ["distance", esc(c.distance)],
    ["pooling", esc(c.pool)],
    ...(c.outputName !== undefined ? ([["output", esc(c.outputName)]] as Array<[string, string]>) : []),
    ["augmentation policy", esc(policyText(c.augment))],
    ["batch size", String(c.batchSize)],
    ["candidates", `${formatCount(audit.candidatesSource.count)} from ${esc(audit.candidatesSource.kind)}, ${formatCount(audit.candidatesSource.skipped)} skipped`],
    ["controls", audit.controlsSource ? `${formatCount(audit.controlsSource.count)} from ${esc(audit.controlsSource.kind)}, ${formatCount(audit.controlsSource.skipped)} skipped` : "none"],
  ];
  return `<section>
<h2>Audit details</h2>
<div class="two-col">${kv(left)}${kv(right)}</div>
</section>`;
}

/** The start of every HTML report up to </head>: no external loads (CSP), no referrer, the report's CSS. */
export function htmlDocumentHead(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${HTML_CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${esc(title)}</title>
<style>${HTML_REPORT_CSS}</style>
</head>`;
}

export function renderHtml(report: ReportV1, opts: HtmlOptions = {}): string {
  return `${htmlDocumentHead(`SSLMem audit ${report.audit.id}`)}
<body>
<main>
${headerSection(report)}
${cardsSection(report)}
${flagSection(report)}
${histogramSection(report)}
${layersHtmlSection(report)}
${calibrationSection(report)}
${pointsSection(report, opts)}
${detailsSection(report)}
<footer>Generated by sslmem · report schema ${esc(report.schemaVersion)} · SSLMem (Wang et al., ICLR 2024): score = align(reference, x) − align(target, x), the mean distance between embeddings of augmented views under each encoder; a high score means the target encoder memorized x.</footer>
</main>
</body>
</html>
`;
}
