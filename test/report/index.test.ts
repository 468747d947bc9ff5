import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderCodequality } from "../../src/report/codequality.ts";
import { renderCsv } from "../../src/report/csv.ts";
import { renderHtml } from "../../src/report/html.ts";
import { REPORT_CONTENT_TYPES, REPORT_RENDER_FORMATS, renderReport } from "../../src/report/index.ts";
import { renderJson } from "../../src/report/json.ts";
import { renderJunit } from "../../src/report/junit.ts";
import { renderMarkdown } from "../../src/report/markdown.ts";
import { renderSarif } from "../../src/report/sarif.ts";
import { renderTable } from "../../src/report/table.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

describe("renderReport", () => {
  const report = fixtureReport("fdr", { candidates: 60, controls: 120 });

  it("dispatches each format to its renderer", () => {
    const thumbnails = new Map([[report.summary.top[0].id, "data:image/png;base64,AAAA"]]);
    assert.equal(renderReport(report, "json"), renderJson(report));
    assert.equal(renderReport(report, "html", { thumbnails }), renderHtml(report, { thumbnails }));
    assert.notEqual(renderReport(report, "html", { thumbnails }), renderHtml(report));
    assert.equal(renderReport(report, "junit"), renderJunit(report));
    assert.equal(renderReport(report, "sarif"), renderSarif(report));
    assert.equal(renderReport(report, "csv"), renderCsv(report.points));
    assert.equal(renderReport(report, "table"), renderTable(report));
    assert.equal(renderReport(report, "markdown"), renderMarkdown(report));
    assert.equal(renderReport(report, "codequality"), renderCodequality(report));
  });

  it("names a media type for every format", () => {
    assert.deepEqual(Object.keys(REPORT_CONTENT_TYPES).sort(), [...REPORT_RENDER_FORMATS].sort());
    assert.deepEqual(REPORT_CONTENT_TYPES, {
      json: "application/json",
      html: "text/html; charset=utf-8",
      junit: "application/xml",
      sarif: "application/sarif+json",
      csv: "text/csv; charset=utf-8",
      table: "text/plain",
      markdown: "text/markdown; charset=utf-8",
      codequality: "application/json",
    });
  });
});
