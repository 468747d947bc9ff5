/**
 * The HTML report as a browser draws it: Debian's headless Chromium screenshots the page and the
 * test looks for the histogram's bar colour in the pixels. This catches what string checks cannot:
 * an SVG the browser refuses to draw, CSS that hides it, or a CSP that blocks the inline styles.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { HISTOGRAM_COLORS } from "../../src/report/html-histogram.ts";
import { renderHtml } from "../../src/report/html.ts";
import { tempDir } from "../helpers/data-tmp.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const run = promisify(execFile);

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

interface ColourHits {
  count: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/** Pixels within `tol` (per channel) of a colour, and their bounding box. */
function findColour(data: Buffer, width: number, channels: number, hex: string, tol: number, box?: ColourHits): ColourHits {
  const [r, g, b] = rgb(hex);
  const hits: ColourHits = { count: 0, minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
  for (let i = 0, px = 0; i < data.length; i += channels, px++) {
    if (Math.abs(data[i] - r) > tol || Math.abs(data[i + 1] - g) > tol || Math.abs(data[i + 2] - b) > tol) continue;
    const x = px % width;
    const y = Math.floor(px / width);
    if (box && (x < box.minX || x > box.maxX || y < box.minY - 40 || y > box.maxY)) continue;
    hits.count++;
    hits.minX = Math.min(hits.minX, x);
    hits.maxX = Math.max(hits.maxX, x);
    hits.minY = Math.min(hits.minY, y);
    hits.maxY = Math.max(hits.maxY, y);
  }
  return hits;
}

describe("HTML report in headless Chromium", () => {
  it("renders to a screenshot that shows the histogram bars and the threshold line", async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`);
      return;
    }
    const dir = await tempDir(t);
    const page = join(dir, "report.html");
    const png = join(dir, "report.png");
    await writeFile(page, renderHtml(fixtureReport("fpr")));
    await run(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${join(dir, "profile")}`,
        `--screenshot=${png}`,
        "--window-size=1200,1600",
        pathToFileURL(page).href,
      ],
      { timeout: 60_000 },
    );
    const bytes = await readFile(png);
    assert.ok(bytes.length > 10_000, `screenshot has ${bytes.length} bytes`);
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 1200);

    // The candidate bars: thousands of pixels of the bar colour spread across the plot's width
    // (the legend swatch alone is 14 × 10 px).
    const bars = findColour(data, info.width, info.channels, HISTOGRAM_COLORS.candidates, 10);
    assert.ok(bars.count > 3000, `${bars.count} bar-coloured pixels`);
    assert.ok(bars.maxX - bars.minX > 500, `bars span ${bars.maxX - bars.minX} px`);
    assert.ok(bars.maxY - bars.minY > 100, `bars are ${bars.maxY - bars.minY} px tall`);

    // The dashed threshold line crosses the plot, within the bars' horizontal extent.
    const threshold = findColour(data, info.width, info.channels, HISTOGRAM_COLORS.threshold, 10, bars);
    assert.ok(threshold.count > 100, `${threshold.count} threshold-coloured pixels in the plot`);
    assert.ok(threshold.maxY - threshold.minY > 100, "the threshold line spans the plot's height");
  });
});
