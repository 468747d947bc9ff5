/**
 * Issue 13, output safety (CASES.md, "Budgets"): one CSV escaper for the report and the results
 * endpoint, point ids with invisible/bidi/control characters shown escaped in every human-facing
 * format, a warning for ids a reader cannot tell apart, and the headers of tenant data.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displayId } from "../../src/core/display-id.ts";
import { lookalikeIdGroups } from "../../src/core/lookalike-ids.ts";
import * as resultsFormat from "../../src/http/results-format.ts";
import { csvField } from "../../src/report/csv.ts";
import { renderReport } from "../../src/report/index.ts";
import { measurement, reportFromMeasurements } from "../helpers/report-fixture.ts";
import { createAudit, startHarness, waitForState } from "../http/harness.ts";

const RLO = "\u202E";

describe("issue 13: output safety", () => {
  it("B10 one CSV escaper quotes ; tab CR LF and quotes, and neutralises formulas, in the report and the results CSV", () => {
    assert.equal(resultsFormat.csvField, csvField, "the results endpoint uses the report's escaper");
    assert.equal(csvField("a;b"), '"a;b"');
    assert.equal(csvField("a\tb"), '"a\tb"');
    assert.equal(csvField("a\rb"), '"a\rb"');
    assert.equal(csvField("a\nb"), '"a\nb"');
    assert.equal(csvField('a"b'), '"a""b"');
    assert.equal(csvField("=1+1"), "'=1+1");
    assert.equal(csvField("=1+1;x"), `"'=1+1;x"`, "a semicolon-separated spreadsheet sees one neutralised cell");
    assert.equal(csvField("\t=1+1"), `"'\t=1+1"`);
    assert.equal(csvField("\uFF1D1+1"), "'\uFF1D1+1", "a full-width equals sign is neutralised too");
    assert.equal(csvField("-0.5"), "'-0.5", "text that looks like a number is text");
    assert.equal(csvField(-0.5), "-0.5", "numbers are written as they are");
    assert.equal(csvField("plain/id.png"), "plain/id.png");
    assert.equal(csvField(undefined), "");
  });

  it("B11 ids with bidi overrides, invisible and control characters are shown escaped; other characters are kept", () => {
    assert.equal(displayId(`invoice${RLO}gpj.exe`), "invoice\\u202Egpj.exe");
    assert.equal(displayId("a\u200Bb\uFEFFc\u2066d"), "a\\u200Bb\\uFEFFc\\u2066d");
    assert.equal(displayId("bell\u0007\u001b[31m"), "bell\\u0007\\u001B[31m");
    assert.equal(displayId("tag\u{E0041}"), "tag\\u{E0041}");
    assert.equal(displayId("lone\uD800x"), "lone\\uD800x");
    assert.equal(displayId("ünïcode/日本語/🐈.png"), "ünïcode/日本語/🐈.png");
  });

  it("B12 HTML, JUnit, SARIF and the terminal table show the escaped id, never the raw override; lookalike ids get a report warning", () => {
    const ids = [`x${RLO}gnp.exe`, "Cat.png", "cat.png", "caf\u00E9.png", "cafe\u0301.png", "zw\u200Bsp.png", "zwsp.png", "plain.png"];
    assert.deepEqual(lookalikeIdGroups(ids), [
      ["Cat.png", "cat.png"],
      ["caf\u00E9.png", "cafe\u0301.png"],
      ["zw\u200Bsp.png", "zwsp.png"],
    ]);
    assert.equal(lookalikeIdGroups(["a", "A", "b", "B", "c", "C", "d", "D"]).length, 3, "at most three groups are listed");
    const candidates = ids.map((id, i) => measurement(id, "candidate", i === 0 ? 5 : 0.01 * i));
    const report = reportFromMeasurements("robust", candidates, []);
    const warning = report.summary.flag.warnings.find((w) => w.includes("Unicode normalization"));
    assert.ok(warning, JSON.stringify(report.summary.flag.warnings));
    assert.match(warning, /"Cat\.png" \/ "cat\.png"/);
    assert.match(warning, /"zw\\u200Bsp\.png" \/ "zwsp\.png"/, "the invisible character is shown escaped in the warning");
    assert.ok(report.points.some((p) => p.id === ids[0]), "the JSON report keeps the exact id");
    for (const format of ["html", "junit", "sarif", "table", "markdown", "codequality"] as const) {
      // Code Quality's location.path is matched by GitLab against files (the exact id); what a
      // person reads is the description.
      const text =
        format === "codequality"
          ? (JSON.parse(renderReport(report, format)) as { description: string }[]).map((i) => JSON.stringify(i.description)).join("\n")
          : renderReport(report, format);
      assert.ok(!text.includes(RLO), `${format} holds the raw U+202E`);
      assert.ok(!text.includes("\u200B"), `${format} holds the raw U+200B`);
      const doubled = format === "sarif" || format === "codequality" || format === "markdown"; // JSON and Markdown escape the backslash itself
      assert.ok(text.includes(doubled ? "x\\\\u202Egnp.exe" : "x\\u202Egnp.exe"), `${format} shows the id escaped`);
    }
  });

  it("B13 every tenant-data response carries Cache-Control: no-store and X-Content-Type-Options: nosniff", async () => {
    const h = await startHarness();
    try {
      const id = await createAudit(h);
      await waitForState(h.store, id, ["succeeded"]);
      const paths = [
        `/v1/audits`,
        `/v1/audits/${id}`,
        `/v1/audits/${id}/results`,
        `/v1/audits/${id}/results?format=csv`,
        `/v1/audits/${id}/report?format=html`,
        `/v1/audits/${id}/report?format=junit`,
        `/v1/audits/${id}/report?format=sarif`,
        `/v1/audits/${id}/report?format=csv`,
        `/v1/audits/not-an-audit`,
      ];
      for (const path of paths) {
        const res = await h.request(path);
        await res.arrayBuffer();
        assert.equal(res.headers.get("cache-control"), "no-store", `${path} (${res.status})`);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", `${path} (${res.status})`);
      }
      const health = await h.request("/livez", { token: null });
      assert.equal(health.headers.get("x-content-type-options"), "nosniff");
    } finally {
      await h.close();
    }
  });
});
