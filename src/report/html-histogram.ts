/**
 * The score histogram of the HTML report as inline SVG (no script, no external assets): candidate
 * bins as bars, controls as a step outline over the same bins, the flag threshold as a dashed
 * vertical line where the method has one, and a rug of the flagged candidates' scores under the
 * axis (the only place an fdr audit's flags show, as fdr has no single score cut).
 *
 * With controls the y axis is each group's share of its points per bin, not counts: the two groups
 * differ in size, and it is their distributions that should be compared. Each bar's tooltip gives
 * the counts. Elements carry data-* attributes (data-bin, data-series, data-threshold) so tests
 * and scrapers can find them without depending on geometry.
 */
import type { ReportV1 } from "../core/report.ts";
import { niceCeiling, niceTicks } from "./axis-ticks.ts";
import { formatCount, formatNumber, formatPercent } from "./numbers.ts";
import { scoreThreshold } from "./selection.ts";

export const HISTOGRAM_COLORS = {
  candidates: "#3b6fd8",
  controls: "#e07b20",
  threshold: "#c62828",
  flagged: "#c62828",
  grid: "#e6e9ee",
  axis: "#57606a",
  text: "#3d444d",
} as const;

const W = 920;
const H = 320;
const M = { left: 64, right: 20, top: 30, bottom: 84 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const BOTTOM = M.top + PLOT_H;
/** A threshold this far outside the candidates' range (as a fraction of it) widens the x axis; further out it is marked at the edge. */
const THRESHOLD_REACH = 0.25;
const RUG_Y = BOTTOM + 40;

const r1 = (x: number) => Math.round(x * 10) / 10;

interface XDomain {
  lo: number;
  hi: number;
}

function xDomain(binLo: number, binHi: number, threshold: number | undefined): XDomain {
  let lo = binLo;
  let hi = binHi;
  if (!(hi > lo)) {
    // One [v, v] bin: centre it in a window proportional to |v|.
    const d = Math.max(Math.abs(lo) * 0.1, 1e-3);
    lo -= d;
    hi += d;
  }
  if (threshold !== undefined) {
    const reach = (hi - lo) * THRESHOLD_REACH;
    if (threshold < lo && threshold >= lo - reach) lo = threshold - (hi - lo) * 0.02;
    if (threshold > hi && threshold <= hi + reach) hi = threshold + (hi - lo) * 0.02;
  }
  return { lo, hi };
}

export function renderHistogramSvg(report: ReportV1): string {
  const { histogram, candidates, controls } = report.summary;
  const bins = histogram.bins;
  const threshold = scoreThreshold(report.summary);
  const shares = controls > 0;
  const candidateValue = (n: number) => (shares ? (100 * n) / candidates : n);
  const controlValue = (n: number) => (100 * n) / controls;

  const binLo = bins[0].lo;
  const binHi = bins[bins.length - 1].hi;
  const dom = xDomain(binLo, binHi, threshold);
  const x = (v: number) => M.left + ((v - dom.lo) / (dom.hi - dom.lo)) * PLOT_W;
  const clampX = (px: number) => Math.min(M.left + PLOT_W, Math.max(M.left, px));

  let yMaxRaw = Math.max(...bins.map((b) => candidateValue(b.count)));
  if (shares) yMaxRaw = Math.max(yMaxRaw, ...bins.map((b) => controlValue(b.controls)));
  const yMax = niceCeiling(yMaxRaw, 5);
  const y = (v: number) => BOTTOM - (v / yMax) * PLOT_H;

  const parts: string[] = [];
  const yTitle = shares ? "share of group per bin (%)" : "candidates per bin";
  parts.push(
    `<svg class="histogram" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="hist-title hist-desc" font-family="inherit" font-size="12">`,
    `<title id="hist-title">Histogram of SSLMem scores</title>`,
    `<desc id="hist-desc">${bins.length} bins of the ${formatCount(candidates)} candidates' scores${shares ? `, with the ${formatCount(controls)} controls as an outline` : ""}${threshold !== undefined ? `, and the flag threshold at ${formatNumber(threshold)}` : ""}.</desc>`,
  );

  // Horizontal grid and y tick labels.
  for (const t of niceTicks(0, yMax, 5)) {
    const py = r1(y(t));
    parts.push(
      `<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${py}" y2="${py}" stroke="${HISTOGRAM_COLORS.grid}" stroke-width="1"/>`,
      `<text x="${M.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="${HISTOGRAM_COLORS.text}">${formatNumber(t, 3)}</text>`,
    );
  }

  const single = !(binHi > binLo);

  // Controls as a step outline over the same bins: a faint area behind the bars, its edge in front.
  let controlsPath = "";
  if (shares) {
    bins.forEach((b, i) => {
      const left = single ? x(b.lo) - PLOT_W / 40 : x(b.lo);
      const right = single ? x(b.lo) + PLOT_W / 40 : x(b.hi);
      const py = r1(y(controlValue(b.controls)));
      controlsPath += i === 0 ? `M${r1(left)},${BOTTOM}V${py}H${r1(right)}` : `V${py}H${r1(right)}`;
    });
    controlsPath += `V${BOTTOM}`;
    parts.push(`<path d="${controlsPath}" fill="${HISTOGRAM_COLORS.controls}" fill-opacity="0.10" stroke="none"/>`);
  }

  // Candidate bars.
  bins.forEach((b, i) => {
    const left = single ? x(b.lo) - PLOT_W / 40 : x(b.lo);
    const right = single ? x(b.lo) + PLOT_W / 40 : x(b.hi);
    const v = candidateValue(b.count);
    const top = y(v);
    const label =
      `[${formatNumber(b.lo)}, ${formatNumber(b.hi)}${i === bins.length - 1 ? "]" : ")"}: ${formatCount(b.count)} candidates` +
      (shares ? ` (${formatPercent(b.count / candidates)}), ${formatCount(b.controls)} controls (${formatPercent(b.controls / controls)})` : "");
    parts.push(
      `<rect data-bin="${i}" data-series="candidates" data-count="${b.count}" x="${r1(left + 0.5)}" y="${r1(top)}" width="${r1(Math.max(0, right - left - 1))}" height="${r1(BOTTOM - top)}" fill="${HISTOGRAM_COLORS.candidates}"><title>${label}</title></rect>`,
    );
  });

  if (shares) {
    parts.push(
      `<path data-series="controls" d="${controlsPath}" fill="none" stroke="${HISTOGRAM_COLORS.controls}" stroke-width="2" stroke-linejoin="round"/>`,
    );
  }

  // Axes.
  parts.push(
    `<line x1="${M.left}" x2="${M.left + PLOT_W}" y1="${BOTTOM}" y2="${BOTTOM}" stroke="${HISTOGRAM_COLORS.axis}" stroke-width="1"/>`,
  );
  for (const t of niceTicks(dom.lo, dom.hi, 7)) {
    const px = r1(x(t));
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${BOTTOM}" y2="${BOTTOM + 5}" stroke="${HISTOGRAM_COLORS.axis}"/>`,
      `<text x="${px}" y="${BOTTOM + 18}" text-anchor="middle" fill="${HISTOGRAM_COLORS.text}">${formatNumber(t, 3)}</text>`,
    );
  }

  // Rug of flagged candidates (deduplicated per pixel to bound the SVG's size).
  const rug = new Set<number>();
  for (const p of report.points) if (p.role === "candidate" && p.flagged) rug.add(Math.round(clampX(x(p.score))));
  if (rug.size > 0) {
    parts.push(
      `<text x="${M.left - 8}" y="${RUG_Y}" text-anchor="end" dominant-baseline="middle" fill="${HISTOGRAM_COLORS.flagged}">flagged</text>`,
      `<g data-series="flagged" stroke="${HISTOGRAM_COLORS.flagged}" stroke-width="1.5">`,
      ...[...rug].sort((a, b) => a - b).map((px) => `<line x1="${px}" x2="${px}" y1="${RUG_Y - 6}" y2="${RUG_Y + 6}"/>`),
      `</g>`,
    );
  }

  // Threshold.
  if (threshold !== undefined) {
    const raw = x(threshold);
    const px = r1(clampX(raw));
    const off = raw !== clampX(raw);
    const anchor = px > M.left + PLOT_W * 0.7 ? "end" : "start";
    const dx = anchor === "end" ? -6 : 6;
    const text = `flag threshold ${formatNumber(threshold)}${off ? (raw > px ? " →" : " ←") : ""}`;
    parts.push(
      `<line data-threshold="${threshold}" x1="${px}" x2="${px}" y1="${M.top - 8}" y2="${BOTTOM}" stroke="${HISTOGRAM_COLORS.threshold}" stroke-width="2" stroke-dasharray="6 4"/>`,
      `<text x="${px + dx}" y="${M.top - 12}" text-anchor="${anchor}" fill="${HISTOGRAM_COLORS.threshold}" font-weight="600">${text}</text>`,
    );
  }

  // Axis titles.
  parts.push(
    `<text x="${M.left + PLOT_W / 2}" y="${H - 10}" text-anchor="middle" fill="${HISTOGRAM_COLORS.text}" font-weight="600">SSLMem score = align(reference) − align(target)</text>`,
    `<text transform="translate(16 ${M.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle" fill="${HISTOGRAM_COLORS.text}" font-weight="600">${yTitle}</text>`,
    `</svg>`,
  );
  return parts.join("\n");
}
