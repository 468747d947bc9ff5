/**
 * Every human-facing format states the same verdict in the same words: the set-level test, the
 * flags expected by chance, the calibration state — and a flagged point is "flagged (p = …)",
 * never "memorized".
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderReport } from "../../src/report/index.ts";
import { evidenceSentence, flagCountSentence, flaggedLabel } from "../../src/report/verdict-text.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";

describe("verdict wording", () => {
  it("with controls: the rank test's verdict, AUC interval, p-value and the expected false flags", () => {
    const report = fixtureReport("fpr", { memorized: 0.3, hostileIds: false, seed: 11 });
    const e = report.summary.evidence;
    assert.ok(e, "an audit with controls has a set-level verdict");
    assert.equal(e.evidence, e.pValue <= 0.01);
    const { tone, text } = evidenceSentence(report.summary);
    assert.equal(tone, e.evidence ? "evidence" : "no-evidence");
    assert.match(text, /of memorization beyond chance at level 0\.01: AUC \d\.\d+ \[\d\.\d+, \d\.?\d*\], p = \S+ \(one-sided Mann–Whitney, 240 candidates vs 300 controls\)/);
    const flag = report.summary.flag;
    assert.ok(flag.expectedFalseFlags !== undefined && flag.countPValue !== undefined, "fpr reports expected false flags and the count test");
    assert.ok(Math.abs(flag.expectedFalseFlags - 240 * flag.parameters.achievedAlpha) < 1e-9, "expected = achieved α · candidates");
    assert.match(flagCountSentence(report.summary), /candidates flagged \(\S+%; fpr, calibrated; \S+ expected by chance; count p = \S+\)/);

    for (const format of ["table", "html", "junit", "sarif", "markdown"] as const) {
      const out = renderReport(report, format);
      assert.doesNotMatch(out, /is memorized|flagged as memorized|memorized by the target/i, `${format} never says a point is memorized`);
      assert.ok(out.includes("of memorization beyond chance"), `${format} states the set-level verdict`);
      assert.ok(out.includes("expected by chance"), `${format} states the expected false flags`);
    }
    assert.doesNotMatch(renderReport(report, "codequality"), /is memorized/);
    const sarif = JSON.parse(renderReport(report, "sarif")) as { runs: Array<{ results: Array<{ message: { text: string } }> }> };
    const first = sarif.runs[0].results[0];
    assert.match(first.message.text, /" flagged \(p = [\d.e-]+\) by the memorization test: score/);
    assert.match(renderReport(report, "junit"), /<failure message="flagged \(p = [\d.e-]+\): score/);
  });

  it("without controls: no set-level verdict, and uncalibrated flags say so", () => {
    const report = fixtureReport("robust", { hostileIds: false });
    assert.equal(report.summary.evidence, undefined);
    assert.equal(evidenceSentence(report.summary).tone, "none");
    assert.match(flagCountSentence(report.summary), /robust, UNCALIBRATED: no false-positive guarantee/);
    assert.equal(report.summary.flag.expectedFalseFlags, undefined);
    assert.match(renderReport(report, "html"), /<div class="verdict warn"><strong>No set-level verdict: the audit has no controls/);
    assert.equal(flaggedLabel({}), "flagged (no p-value: uncalibrated method)");
  });
});
