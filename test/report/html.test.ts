import { displayId } from "../../src/core/display-id.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HTML_CSP, HTML_FLAGGED_LIMIT, renderHtml, safeThumbnailUri } from "../../src/report/html.ts";
import { escapeMarkup } from "../../src/report/markup.ts";
import { fixtureReport, HOSTILE_IDS, measurement, reportFromMeasurements } from "../helpers/report-fixture.ts";
import { renderTable } from "../../src/report/table.ts";

const PNG_URI = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

function count(text: string, re: RegExp): number {
  return (text.match(re) ?? []).length;
}

describe("HTML report", () => {
  it("draws the histogram as inline SVG with 20 candidate bars and a controls outline", () => {
    const report = fixtureReport("fdr");
    const html = renderHtml(report);
    assert.equal(count(html, /<svg[\s>]/g), 1);
    assert.equal(count(html, /<rect data-bin="\d+" data-series="candidates"/g), 20);
    const counts = [...html.matchAll(/<rect data-bin="\d+" data-series="candidates" data-count="(\d+)"/g)].map((m) => Number(m[1]));
    assert.deepEqual(counts, report.summary.histogram.bins.map((b) => b.count));
    assert.equal(count(html, /<path data-series="controls"/g), 1);
    // fdr has no single score cut: no threshold line, but the flagged candidates' rug.
    assert.equal(count(html, /data-threshold=/g), 0);
    assert.equal(count(html, /<g data-series="flagged"/g), 1);
  });

  it("draws the threshold line where the method has one", () => {
    const report = fixtureReport("robust");
    const html = renderHtml(report);
    const m = /<line data-threshold="([^"]+)"/.exec(html);
    assert.ok(m, "threshold line");
    assert.equal(Number(m[1]), report.summary.histogram.thresholdScore);
    // No controls: no outline.
    assert.equal(count(html, /data-series="controls"/g), 0);
  });

  it("escapes hostile ids and warnings", () => {
    const html = renderHtml(fixtureReport("robust"));
    assert.ok(html.includes(escapeMarkup(displayId(HOSTILE_IDS[0]))));
    assert.ok(html.includes("a&quot;&lt;b&gt;&amp;c\\u0001.png"));
    assert.ok(!html.includes('a"<b>'));
    assert.ok(!html.includes("<script"));
    assert.ok(!html.includes("\u0001") && !html.includes("\u001b"));
    assert.ok(html.includes("flags are uncalibrated: method &#39;robust&#39; marks candidates"));
    assert.match(html, /class="badge warn">uncalibrated</);
  });

  it("is self-contained: a CSP meta tag and no external reference", () => {
    for (const variant of ["fdr", "fpr", "robust"] as const) {
      const html = renderHtml(fixtureReport(variant), { thumbnails: new Map([["train/img_00010.png", PNG_URI]]) });
      assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${HTML_CSP}">`));
      assert.equal(HTML_CSP, "default-src 'none'; img-src data:; style-src 'unsafe-inline'");
      assert.doesNotMatch(html, /https?:\/\//i);
      assert.doesNotMatch(html, /<(script|link|iframe|object|embed)\b/i);
      for (const m of html.matchAll(/\bsrc="([^"]*)"/g)) assert.match(m[1], /^data:image\//);
      assert.ok(!html.includes("NaN") && !html.includes("undefined"), "no unformatted values");
    }
  });

  it("shows calibration details when diagnostics are present", () => {
    const report = fixtureReport("fdr");
    const d = report.summary.flag.diagnostics!;
    const html = renderHtml(report);
    assert.match(html, /<h2>Calibration<\/h2>/);
    assert.match(html, /LOO false-flag rate/);
    const section = html.slice(html.indexOf("<h2>Calibration</h2>"), html.indexOf("<h2>", html.indexOf("<h2>Calibration</h2>") + 4));
    const qqRows = [...section.matchAll(/<tr><td class="num">([^<]+)<\/td>/g)].map((m) => Number(m[1]));
    assert.deepEqual(qqRows, d.qq!.map((r) => r.quantile));
    assert.ok(html.includes("generalized-pareto"));
    assert.doesNotMatch(renderHtml(fixtureReport("robust")), /<h2>Calibration<\/h2>/);
  });

  it("lists the flagged candidates by score, with only valid data-URI thumbnails", () => {
    const report = fixtureReport("fpr");
    const flagged = report.points.filter((p) => p.role === "candidate" && p.flagged).sort((a, b) => b.score - a.score);
    const thumbnails = new Map([
      [flagged[0].id, PNG_URI],
      [flagged[1].id, "javascript:alert(1)"],
      [flagged[2].id, "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="],
      [flagged[3].id, 'data:image/png;base64,AAAA" onerror="alert(1)'],
    ]);
    const html = renderHtml(report, { thumbnails });
    assert.equal(count(html, /<img /g), 1);
    assert.ok(html.includes(`<img src="${PNG_URI}"`));
    assert.ok(!html.includes("javascript:") && !html.includes("svg+xml") && !html.includes("onerror"));
    const section = html.slice(html.indexOf("<h2>Top flagged candidates</h2>"));
    const ids = [...section.matchAll(/<td class="id mono">([^<]*)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(ids, flagged.slice(0, HTML_FLAGGED_LIMIT).map((p) => escapeMarkup(displayId(p.id))));
  });

  it("falls back to the top candidates when nothing is flagged", () => {
    const report = fixtureReport("fdr", { memorized: 0, hostileIds: false, seed: 3 });
    assert.equal(report.summary.flagged, 0);
    const html = renderHtml(report);
    assert.match(html, /<div class="verdict (ok|bad)"><strong>(No evidence|Evidence) of memorization beyond chance at level 0\.01: AUC [^<]*p = [^<]*<\/strong><span>0 of \d+ candidates flagged \(0%; fdr, calibrated; at most 0 of them expected false\)<\/span>/);
    assert.match(html, /Top candidates by score \(none flagged\)/);
    assert.equal(count(html, /<td class="id mono">/g), report.summary.top.length);
  });

  it("accepts only base64 PNG, JPEG and WebP data URIs as thumbnails", () => {
    assert.equal(safeThumbnailUri(PNG_URI), PNG_URI);
    assert.equal(safeThumbnailUri("data:image/jpeg;base64,/9j/4AAQ"), "data:image/jpeg;base64,/9j/4AAQ");
    assert.equal(safeThumbnailUri("data:image/webp;base64,UklGRg=="), "data:image/webp;base64,UklGRg==");
    assert.equal(safeThumbnailUri("data:image/gif;base64,R0lGOD"), undefined);
    assert.equal(safeThumbnailUri("https://example.org/x.png"), undefined);
    assert.equal(safeThumbnailUri("data:image/png;base64,AA AA"), undefined);
    assert.equal(safeThumbnailUri(undefined), undefined);
  });

  it("draws one bar when every candidate score is equal", () => {
    const candidates = Array.from({ length: 12 }, (_, i) => measurement(`x${i}`, "candidate", 0.02));
    const report = reportFromMeasurements("robust", candidates, []);
    assert.equal(report.summary.histogram.bins.length, 1);
    const html = renderHtml(report);
    assert.equal(count(html, /<rect data-bin=/g), 1);
    assert.match(html, /<rect data-bin="0" data-series="candidates" data-count="12" x="[\d.]+" y="[\d.]+" width="[1-9][\d.]*" height="[1-9][\d.]*"/);
    assert.ok(!html.includes("NaN") && !html.includes("Infinity"));
    assert.ok(!renderTable(report).includes("NaN"));
  });

  it("keeps a threshold near the scores on the axis and marks a far one at the edge", () => {
    const candidates = Array.from({ length: 40 }, (_, i) => measurement(`x${i}`, "candidate", i / 100));
    const near = reportFromMeasurements("threshold", candidates, [], 1.1);
    const far = reportFromMeasurements("threshold", candidates, [], 3);
    for (const [report, label] of [[near, /flag threshold 0\.429</], [far, /flag threshold 1\.17 →</]] as const) {
      const html = renderHtml(report);
      assert.equal(report.summary.flagged, 0);
      const x = Number(/<line data-threshold="[^"]+" x1="([\d.]+)"/.exec(html)![1]);
      const lastBar = /<rect data-bin="19"[^>]* x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(html)!;
      assert.ok(x > Number(lastBar[1]) + Number(lastBar[2]), "threshold right of the last bar");
      assert.match(html, label);
      assert.ok(!html.includes("NaN"));
    }
  });
});
