/**
 * The LayerMem section of the HTML report: an inline SVG of the mean LayerMem per layer (bars)
 * with the median (dots) and ΔLayerMem (the step each layer adds, as a line), and a table with the
 * numbers and the share of flagged candidates that peak at each layer. No script, no external
 * assets; elements carry data-layer / data-series attributes for tests and scrapers.
 */
import type { ReportLayers, ReportV1 } from "../core/report.ts";
import { escapeMarkup as esc } from "./markup.ts";
import { formatNumber, formatPercent } from "./numbers.ts";
import { niceTicks } from "./axis-ticks.ts";

const W = 920;
const H = 300;
const M = { left: 64, right: 20, top: 24, bottom: 60 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const COLORS = { mean: "#3b6fd8", median: "#1b2a4a", delta: "#e07b20", grid: "#e6e9ee", axis: "#57606a", text: "#3d444d" } as const;
const r1 = (x: number) => Math.round(x * 10) / 10;

/** A long ONNX value name cut to its last path segments for an axis label. */
export function shortLayerName(name: string, max = 18): string {
  const tail = name.split("/").filter(Boolean).slice(-2).join("/") || name;
  return tail.length <= max ? tail : "…" + tail.slice(tail.length - max + 1);
}

export function renderLayersSvg(section: ReportLayers): string {
  const layers = section.layers;
  const values = layers.flatMap((l) => [l.meanScore, l.medianScore, l.delta]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const ticks = niceTicks(lo, hi > lo ? hi : lo + 1, 5);
  const y0 = Math.min(lo, ticks[0]);
  const y1 = Math.max(hi, ticks[ticks.length - 1]);
  const y = (v: number) => r1(M.top + PLOT_H - ((v - y0) / (y1 - y0)) * PLOT_H);
  const slot = PLOT_W / layers.length;
  const x = (i: number) => r1(M.left + slot * (i + 0.5));
  const barW = r1(Math.min(48, slot * 0.6));
  const parts: string[] = [];
  for (const t of ticks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="${COLORS.grid}"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11" fill="${COLORS.text}">${esc(formatNumber(t, 3))}</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(0)}" y2="${y(0)}" stroke="${COLORS.axis}"/>`);
  layers.forEach((l, i) => {
    const top = Math.min(y(l.meanScore), y(0));
    const height = r1(Math.abs(y(l.meanScore) - y(0)));
    parts.push(
      `<rect data-layer="${i}" data-series="mean" x="${r1(x(i) - barW / 2)}" y="${top}" width="${barW}" height="${height}" fill="${COLORS.mean}"><title>${esc(l.name)}: mean LayerMem ${esc(formatNumber(l.meanScore))}, median ${esc(formatNumber(l.medianScore))}, Δ ${esc(formatNumber(l.delta))}</title></rect>`,
    );
    parts.push(`<circle data-layer="${i}" data-series="median" cx="${x(i)}" cy="${y(l.medianScore)}" r="3.5" fill="${COLORS.median}"/>`);
    parts.push(`<text x="${x(i)}" y="${M.top + PLOT_H + 16}" text-anchor="middle" font-size="10" fill="${COLORS.text}">${esc(shortLayerName(l.name))}</text>`);
    parts.push(`<text x="${x(i)}" y="${M.top + PLOT_H + 30}" text-anchor="middle" font-size="10" fill="${COLORS.axis}">${i + 1}${l.final ? " (output)" : ""}</text>`);
  });
  const deltaPath = layers.map((l, i) => `${i === 0 ? "M" : "L"}${x(i)},${y(l.delta)}`).join(" ");
  parts.push(`<path data-series="delta" d="${deltaPath}" fill="none" stroke="${COLORS.delta}" stroke-width="2" stroke-dasharray="5 3"/>`);
  layers.forEach((l, i) => parts.push(`<circle data-layer="${i}" data-series="delta" cx="${x(i)}" cy="${y(l.delta)}" r="3" fill="${COLORS.delta}"/>`));
  parts.push(`<text x="${M.left}" y="${M.top - 8}" font-size="11" fill="${COLORS.text}">LayerMem (distance units)</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="layers" viewBox="0 0 ${W} ${H}" role="img" aria-label="Mean LayerMem per layer">${parts.join("")}</svg>`;
}

export function layersHtmlSection(report: ReportV1): string {
  const section = report.layers;
  if (!section) return "";
  const rows = section.layers
    .map(
      (l, i) => `<tr><td class="num">${i + 1}</td><td class="id" title="${esc(l.name)}">${esc(l.name)}${l.final ? " (output)" : ""}</td><td>${esc(`[${l.shape.join("×")}]`)} → ${l.dim}</td><td class="num">${esc(formatNumber(l.meanScore))}</td><td class="num">${esc(formatNumber(l.medianScore))}</td><td class="num">${esc(formatNumber(l.delta))}</td><td class="num">${l.flaggedPeaks} (${esc(formatPercent(l.flaggedPeakFraction))})</td></tr>`,
    )
    .join("\n");
  return `<section>
<h2>Where memorization lives (LayerMem)</h2>
<figure class="chart">
<div class="legend"><span><i class="swatch candidates"></i>mean LayerMem</span><span>● median</span><span>- - ΔLayerMem (orange)</span></div>
${renderLayersSvg(section)}
<figcaption>SSLMem measured on each layer's representation (${esc(section.pooling)} pooling) with the same views as the audit score (Wang et al., NeurIPS 2024). ΔLayerMem is the increase over the previous layer: where memorization is added. The last layer is the representation; its LayerMem is the audit score.</figcaption>
</figure>
<table>
<thead><tr><th class="num">#</th><th>layer</th><th>shape → row</th><th>mean</th><th>median</th><th>Δ</th><th>flagged peaking here</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}
