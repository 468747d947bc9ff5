import { displayId } from "../../src/core/display-id.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pointIdToUri, renderSarif, SARIF_RULE_ID } from "../../src/report/sarif.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: Array<{ physicalLocation: { artifactLocation: { uri: string; uriBaseId: string } } }>;
  properties: { score: number; scoreNormalized: number; pValue?: number; stdErr: number };
}

function parse(text: string) {
  return JSON.parse(text) as {
    $schema: string;
    version: string;
    runs: Array<{
      tool: { driver: { name: string; informationUri: string; rules: Array<Record<string, unknown> & { id: string; name: string }> } };
      originalUriBaseIds: Record<string, unknown>;
      results: SarifResult[];
      properties: { calibrated: boolean; warnings: string[] };
    }>;
  };
}

describe("SARIF report", () => {
  it("has the required SARIF 2.1.0 fields and the SSLMEM001 rule", () => {
    const sarif = parse(renderSarif(fixtureReport("fdr")));
    assert.match(sarif.$schema, /sarif-schema-2\.1\.0\.json$/);
    assert.equal(sarif.version, "2.1.0");
    assert.equal(sarif.runs.length, 1);
    const driver = sarif.runs[0].tool.driver;
    assert.equal(driver.name, "sslmem");
    assert.match(driver.informationUri, /^https:\/\//);
    assert.equal(driver.rules.length, 1);
    const rule = driver.rules[0];
    assert.equal(rule.id, SARIF_RULE_ID);
    assert.equal(rule.name, "MemorizedTrainingImage");
    for (const k of ["shortDescription", "fullDescription", "help"]) {
      assert.equal(typeof (rule[k] as { text: unknown }).text, "string", k);
    }
    assert.ok(rule.properties);
  });

  for (const [variant, level] of [["fdr", "error"], ["robust", "warning"]] as const) {
    it(`has one ${level} result per flagged candidate (${variant})`, () => {
      const report = fixtureReport(variant);
      const run = parse(renderSarif(report)).runs[0];
      const flagged = report.points.filter((p) => p.role === "candidate" && p.flagged);
      assert.equal(run.results.length, flagged.length);
      run.results.forEach((r, k) => {
        const p = flagged[k];
        assert.equal(r.ruleId, SARIF_RULE_ID);
        assert.equal(r.ruleIndex, 0);
        assert.equal(r.level, level);
        assert.ok(r.message.text.includes(displayId(p.id)));
        const loc = r.locations[0].physicalLocation.artifactLocation;
        assert.ok(loc.uriBaseId in run.originalUriBaseIds);
        // A relative URI whose segments decode back to the id.
        assert.doesNotMatch(loc.uri, /[\s#?"<>\\\u0000-\u001f]/);
        assert.equal(loc.uri.split("/").map(decodeURIComponent).join("/"), p.id);
        assert.deepEqual(r.properties, {
          score: p.score,
          scoreNormalized: p.scoreNormalized,
          ...(p.pValue !== undefined ? { pValue: p.pValue } : {}),
          stdErr: p.stdErr,
        });
      });
      assert.equal(run.properties.calibrated, variant === "fdr");
      if (variant === "robust") assert.match(run.properties.warnings[0], /uncalibrated/);
    });
  }

  it("percent-encodes each path segment but keeps the separators", () => {
    assert.equal(pointIdToUri("dir with space/a#1?.png"), "dir%20with%20space/a%231%3F.png");
    assert.equal(pointIdToUri("c:/x"), "c%3A/x");
    assert.equal(pointIdToUri("a\u0001b"), "a%01b");
  });
});
