import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ReportV1Schema } from "../../src/core/report.ts";
import { renderJson } from "../../src/report/json.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

describe("JSON report", () => {
  for (const variant of ["fdr", "robust"] as const) {
    it(`round-trips the ${variant} report and still passes ReportV1Schema`, () => {
      const report = fixtureReport(variant);
      const text = renderJson(report);
      assert.ok(text.endsWith("}\n"));
      assert.match(text.split("\n")[1], /^ {2}"schemaVersion": /);
      const back = JSON.parse(text);
      assert.deepEqual(back, report);
      assert.equal(ReportV1Schema.safeParse(back).success, true);
    });
  }
});
