import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ReportPoint } from "../../src/core/report.ts";
import { csvField, csvHeader, csvRow, renderCsv, CSV_REPORT_COLUMNS } from "../../src/report/csv.ts";
import { fixtureReport, HOSTILE_IDS } from "../helpers/report-fixture.ts";

/** RFC 4180: CRLF records, `"`-quoted fields with `""` for a quote; throws on anything else. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quoted field");
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else {
      const m = /^[^",\r\n]*/.exec(text.slice(i))![0];
      field = m;
      i += m.length;
    }
    row.push(field);
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text.startsWith("\r\n", i)) {
      rows.push(row);
      row = [];
      i += 2;
      if (i === text.length) return rows;
      continue;
    }
    throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
  }
}

describe("CSV report", () => {
  it("parses back to one row per point with the exact values", () => {
    const report = fixtureReport("fdr");
    const rows = parseCsv(renderCsv(report.points));
    assert.deepEqual(rows[0], [...CSV_REPORT_COLUMNS]);
    assert.equal(rows.length - 1, report.points.length);
    report.points.forEach((p, k) => {
      const r = rows[k + 1];
      assert.equal(r.length, CSV_REPORT_COLUMNS.length);
      const id = /^[=+\-@\t\r]/.test(p.id) ? `'${p.id}` : p.id;
      assert.equal(r[0], id);
      assert.equal(r[1], p.role);
      for (const [c, key] of [[2, "alignTarget"], [3, "alignReference"], [4, "score"], [5, "stdErr"], [6, "scoreNormalized"]] as const) {
        assert.equal(Number(r[c]), p[key], `${key} of ${p.id}`);
      }
      assert.equal(r[7], p.pValue === undefined ? "" : String(p.pValue));
      if (p.pValue !== undefined) assert.equal(Number(r[7]), p.pValue);
      assert.equal(r[8], String(p.flagged));
    });
  });

  it("neutralises formula-like ids and quotes separators", () => {
    const rows = parseCsv(renderCsv(fixtureReport("robust").points));
    const ids = new Set(rows.slice(1).map((r) => r[0]));
    for (const hostile of HOSTILE_IDS) {
      if (/^[=+\-@\t\r]/.test(hostile)) {
        assert.ok(ids.has(`'${hostile}`), `${JSON.stringify(hostile)} gets an apostrophe`);
        assert.ok(!ids.has(hostile));
      } else {
        assert.ok(ids.has(hostile), `${JSON.stringify(hostile)} survives unchanged`);
      }
    }
    // No cell a spreadsheet would evaluate.
    for (const r of rows.slice(1)) assert.doesNotMatch(r[0], /^[=+\-@\t\r]/);
  });

  it("streams the same text row by row", () => {
    const points = fixtureReport("robust", { candidates: 30 }).points;
    assert.equal(csvHeader() + points.map((p: ReportPoint) => csvRow(p)).join(""), renderCsv(points));
  });

  it("quotes by RFC 4180 and leaves numbers and negative numbers alone", () => {
    assert.equal(csvField('say "hi", ok'), '"say ""hi"", ok"');
    assert.equal(csvField("a\r\nb"), '"a\r\nb"');
    assert.equal(csvField("=1+2"), "'=1+2");
    assert.equal(csvField('=A1,"x"'), `"'=A1,""x"""`);
    assert.equal(csvField(-0.5), "-0.5");
    assert.equal(csvField(undefined), "");
    assert.equal(csvField(false), "false");
  });
});
