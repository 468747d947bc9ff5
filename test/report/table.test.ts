import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatNumber } from "../../src/report/numbers.ts";
import { renderTable, TABLE_WIDTH } from "../../src/report/table.ts";
import { textWidth } from "../../src/report/terminal-text.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

describe("terminal table report", () => {
  for (const variant of ["fdr", "fpr", "robust"] as const) {
    it(`fits ${TABLE_WIDTH} columns and carries no terminal control characters (${variant})`, () => {
      const text = renderTable(fixtureReport(variant));
      for (const line of text.split("\n")) assert.ok(textWidth(line) <= TABLE_WIDTH, `${textWidth(line)} cells: ${line}`);
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    });
  }

  it("summarizes encoders, counts, flags and calibration", () => {
    const report = fixtureReport("fdr");
    const text = renderTable(report);
    assert.match(text, /target +sha256:3f3f3f3f3f3f /);
    assert.match(text, /reference +sha256:a7a7a7a7a7a7 /);
    assert.match(text, /provider +cpu/);
    assert.match(text, /candidates +240 \(2 skipped\)/);
    assert.match(text, /controls +300/);
    assert.match(text, /flags +fdr \(q=0\.05, controls=300, .*\) — calibrated/);
    assert.match(text, new RegExp(`flagged +${report.summary.flagged} of 240 candidates flagged \\(5\\.8%; fdr, calibrated; at most 0\\.7 of them expected\\s+false\\)`));
    assert.match(text, /verdict +no evidence of memorization beyond chance at level 0\.01: AUC 0\.527 \[0\.478, 0\.577\], p =\s+0\.139 \(one-sided Mann–Whitney, 240 candidates vs 300 controls\)/);
    assert.doesNotMatch(text, /memorized by|is memorized/);
    assert.match(text, /no single score threshold/);
  });

  it("prints the uncalibrated warning and marks the threshold bin", () => {
    const report = fixtureReport("robust");
    const text = renderTable(report);
    assert.match(text, /— UNCALIBRATED/);
    assert.match(text, /warning: flags are uncalibrated/);
    const rows = text.split("\n").filter((l) => l.includes("│"));
    assert.equal(rows.length, 20);
    // Each row's count column is the bin's count.
    assert.deepEqual(
      rows.map((l) => Number(/(\d+)(?:  ◄ threshold)?$/.exec(l)![1])),
      report.summary.histogram.bins.map((b) => b.count),
    );
    const marked = rows.findIndex((l) => l.endsWith("◄ threshold"));
    const t = report.summary.histogram.thresholdScore!;
    const bin = report.summary.histogram.bins[marked];
    assert.ok(bin.lo <= t && t < bin.hi);
    // The fullest bin has the longest bar.
    const barLength = (l: string) => /│([█▏▎▍▌▋▊▉]*)/.exec(l)![1].length;
    const fullest = report.summary.histogram.bins.reduce((m, b, i, bins) => (b.count > bins[m].count ? i : m), 0);
    assert.equal(Math.max(...rows.map(barLength)), barLength(rows[fullest]));
  });

  it("lists the top 10 candidates with stdErr, cutting long ids in the middle", () => {
    const report = fixtureReport("robust");
    const text = renderTable(report);
    const start = text.split("\n").findIndex((l) => l.startsWith("Top 10 candidates"));
    const rows = text.split("\n").slice(start + 2).filter((l) => l.trim() !== "");
    assert.equal(rows.length, 10);
    assert.ok(rows.every((r) => r.endsWith("FLAGGED")));
    assert.ok(rows.some((r) => /very\/long\/path\/.*….*img_000123\.png/.test(r)), "long id cut in the middle");
    const stdErrs = new Map(report.points.map((p) => [p.id, p.stdErr]));
    rows.forEach((r, k) => {
      const [rank, , score, stdErr, normalized, pValue] = r.trim().split(/ {2,}/);
      const top = report.summary.top[k];
      assert.equal(rank, String(k + 1));
      assert.equal(score, formatNumber(top.score));
      assert.equal(stdErr, formatNumber(stdErrs.get(top.id)!, 2));
      assert.equal(normalized, formatNumber(top.scoreNormalized, 3));
      assert.equal(pValue, "—", "robust flags have no p-values");
    });
  });
});
