/**
 * The UnitMem report as one self-contained HTML page (same stylesheet and CSP as the audit
 * report): the top units with the point each singles out and its thumbnail, a per-layer UnitMem
 * distribution as inline SVG (one row of bins per layer), and the points most units single out.
 */
import type { UnitMemReport } from "../core/unitmem-report.ts";
import { displayId } from "../core/display-id.ts";
import { htmlDocumentHead, safeThumbnailUri } from "./html.ts";
import { escapeMarkup as esc } from "./markup.ts";
import { formatNumber } from "./numbers.ts";
import { terminalSafe } from "./terminal-text.ts";

/** The points the page shows pictures of: those the top units single out, and the points most units do. */
export function unitMemThumbnailIds(report: UnitMemReport): string[] {
  return [...new Set([...report.topUnits.map((u) => u.point), ...report.points.map((p) => p.id)])];
}

function thumb(id: string, thumbnails?: ReadonlyMap<string, string>): string {
  const uri = safeThumbnailUri(thumbnails?.get(id));
  return uri ? `<div class="thumb"><img src="${esc(uri)}" alt="thumbnail of ${esc(id)}"></div>` : `<div class="thumb none">no image</div>`;
}

const ROW_H = 34;
const LABEL_W = 220;
const W = 920;

/** One strip per layer: 20 bins of UnitMem, darker = more units (share of the layer's units). */
export function renderUnitDistributionsSvg(report: UnitMemReport): string {
  const H = report.layers.length * ROW_H + 30;
  const parts: string[] = [];
  report.layers.forEach((layer, row) => {
    const y = row * ROW_H + 4;
    const total = Math.max(1, layer.units);
    const binW = (W - LABEL_W - 10) / layer.histogram.length;
    const label = layer.name.length > 32 ? "…" + layer.name.slice(-31) : layer.name;
    parts.push(`<text x="${LABEL_W - 8}" y="${y + 18}" text-anchor="end" font-size="11" fill="#3d444d">${esc(label)} (${layer.units})</text>`);
    layer.histogram.forEach((bin, i) => {
      const share = bin.count / total;
      const opacity = share === 0 ? 0.04 : Math.round((0.15 + 0.85 * Math.sqrt(share)) * 100) / 100;
      parts.push(
        `<rect data-layer="${row}" data-bin="${i}" x="${Math.round(LABEL_W + i * binW)}" y="${y}" width="${Math.ceil(binW) - 1}" height="${ROW_H - 8}" fill="#3b6fd8" fill-opacity="${opacity}"><title>${esc(layer.name)}: ${bin.count} units with UnitMem in [${formatNumber(bin.lo, 3)}, ${formatNumber(bin.hi, 3)})</title></rect>`,
      );
    });
  });
  const axisY = report.layers.length * ROW_H + 16;
  const first = report.layers[0]?.histogram;
  if (first && first.length > 0) {
    parts.push(`<text x="${LABEL_W}" y="${axisY}" font-size="11" fill="#57606a">${esc(formatNumber(first[0].lo, 2))}</text>`);
    parts.push(`<text x="${W - 10}" y="${axisY}" text-anchor="end" font-size="11" fill="#57606a">${esc(formatNumber(first[first.length - 1].hi, 2))}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="UnitMem distribution per layer">${parts.join("")}</svg>`;
}

export function renderUnitMemHtml(report: UnitMemReport, opts: { thumbnails?: ReadonlyMap<string, string> } = {}): string {
  const { run } = report;
  const top = report.topUnits
    .map(
      (u, i) =>
        `<tr><td class="num">${i + 1}</td><td class="id">${esc(u.layer)}</td><td class="num">${u.unit}</td><td class="num">${esc(formatNumber(u.unitMem))}</td><td>${thumb(u.point, opts.thumbnails)}</td><td class="id">${esc(displayId(u.point))}</td><td class="num">${esc(formatNumber(u.muMax))}</td><td class="num">${esc(formatNumber(u.muOthers))}</td></tr>`,
    )
    .join("\n");
  const points = report.points
    .map((p) => `<tr><td>${thumb(p.id, opts.thumbnails)}</td><td class="id">${esc(displayId(p.id))}</td><td class="num">${p.units}</td><td class="num">${esc(formatNumber(p.meanUnitMem))}</td></tr>`)
    .join("\n");
  const layers = report.layers
    .map((l) => `<tr><td class="id">${esc(l.name)}</td><td>${esc(`[${l.shape.join("×")}]`)}</td><td class="num">${l.units}</td><td class="num">${esc(formatNumber(l.meanUnitMem))}</td><td class="num">${esc(formatNumber(l.medianUnitMem))}</td><td class="num">${esc(formatNumber(l.maxUnitMem))}</td><td class="num">${l.signedUnits}</td></tr>`)
    .join("\n");
  return `${htmlDocumentHead(`UnitMem ${run.id}`)}
<body>
<main>
<h1>UnitMem: which units single out one image</h1>
<p class="muted">Encoder <code>${esc(run.encoder.digest.slice(0, 19))}…</code> · ${run.points} points · ${run.config.views} views each · baseline μ<sub>−max</sub> = ${esc(run.config.baseline)} over the other points · ${esc(run.provider)} (${esc(run.pipeline)})</p>
<section>
<h2>Top units</h2>
<table>
<thead><tr><th class="num">#</th><th>layer</th><th class="num">unit</th><th class="num">UnitMem</th><th>image</th><th>point</th><th class="num">μ<sub>max</sub></th><th class="num">μ<sub>−max</sub></th></tr></thead>
<tbody>
${top}
</tbody>
</table>
</section>
<section>
<h2>UnitMem per layer</h2>
<figure class="chart">
${renderUnitDistributionsSvg(report)}
<figcaption>Each row is a layer; each cell a UnitMem interval, darker for a larger share of the layer's units. UnitMem(u) = (μ<sub>max</sub> − μ<sub>−max</sub>)/(μ<sub>max</sub> + μ<sub>−max</sub>): 0 = the unit responds to every image alike, 1 = to one image only (Wang et al., NeurIPS 2024).</figcaption>
</figure>
<table>
<thead><tr><th>layer</th><th>shape</th><th class="num">units</th><th class="num">mean</th><th class="num">median</th><th class="num">max</th><th class="num" title="units with a negative baseline μ−max: UnitMem assumes non-negative (post-ReLU) activations, so it is undefined there and shown as 0">undefined (signed)</th></tr></thead>
<tbody>
${layers}
</tbody>
</table>
</section>
<section>
<h2>Points most units single out</h2>
<table>
<thead><tr><th>image</th><th>point</th><th class="num">units</th><th class="num">their mean UnitMem</th></tr></thead>
<tbody>
${points}
</tbody>
</table>
</section>
<footer>Generated by sslmem · ${esc(report.schemaVersion)}</footer>
</main>
</body>
</html>
`;
}

/** A short terminal summary: layers and the top units. */
export function renderUnitMemText(report: UnitMemReport): string {
  const lines = [`UnitMem over ${report.run.points} points (${report.run.config.views} views, baseline ${report.run.config.baseline}, ${report.run.provider}/${report.run.pipeline})`, ""];
  lines.push("layer                                    units    mean  median     max  signed");
  for (const l of report.layers) {
    const name = l.name.length > 40 ? "…" + l.name.slice(-39) : l.name;
    lines.push(`${name.padEnd(40)} ${String(l.units).padStart(6)} ${l.meanUnitMem.toFixed(4).padStart(7)} ${l.medianUnitMem.toFixed(4).padStart(7)} ${l.maxUnitMem.toFixed(4).padStart(7)} ${String(l.signedUnits).padStart(7)}`);
  }
  const signed = report.layers.reduce((n, l) => n + l.signedUnits, 0);
  if (signed > 0) lines.push("", `${signed} unit(s) have a negative baseline (no ReLU before them): UnitMem is undefined there and shown as 0`);
  lines.push("", "top units: layer / unit → point (UnitMem)");
  for (const u of report.topUnits.slice(0, 10)) lines.push(`  ${u.layer} / ${u.unit} → ${displayId(u.point)} (${u.unitMem.toFixed(4)})`);
  return lines.map(terminalSafe).join("\n") + "\n";
}
