/** The CI formats: the Markdown job summary and the GitLab Code Quality report. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { codequalityFingerprint, renderCodequality, CODEQUALITY_CHECK_NAME } from "../../src/report/codequality.ts";
import { renderMarkdown, markdownText, MARKDOWN_TOP_POINTS } from "../../src/report/markdown.ts";
import { fixtureReport, HOSTILE_IDS } from "../helpers/report-fixture.ts";

interface CodequalityIssue {
  description: string;
  check_name: string;
  fingerprint: string;
  severity: string;
  location: { path: string; lines: { begin: number } };
}

describe("GitLab Code Quality report", () => {
  it("has one issue per flagged candidate, with GitLab's required fields", () => {
    const report = fixtureReport("fpr");
    const issues = JSON.parse(renderCodequality(report)) as CodequalityIssue[];
    const flagged = report.points.filter((p) => p.role === "candidate" && p.flagged);
    assert.ok(flagged.length > 0);
    assert.equal(issues.length, flagged.length);
    for (const issue of issues) {
      assert.equal(issue.check_name, CODEQUALITY_CHECK_NAME);
      assert.equal(issue.severity, "major");
      assert.match(issue.fingerprint, /^[0-9a-f]{64}$/);
      assert.equal(typeof issue.location.path, "string");
      assert.equal(issue.location.lines.begin, 1);
      assert.match(issue.description, /is memorized by the target encoder: score/);
    }
    assert.deepEqual(new Set(issues.map((i) => i.location.path)), new Set(flagged.map((p) => p.id)));
    assert.equal(new Set(issues.map((i) => i.fingerprint)).size, issues.length, "fingerprints are unique");
  });

  it("keeps a finding's fingerprint across runs whose scores differ (stable for GitLab's MR comparison)", () => {
    const a = JSON.parse(renderCodequality(fixtureReport("fpr", { seed: 7 }))) as CodequalityIssue[];
    const b = JSON.parse(renderCodequality(fixtureReport("fpr", { seed: 8 }))) as CodequalityIssue[];
    const byPath = new Map(b.map((i) => [i.location.path, i]));
    const common = a.filter((i) => byPath.has(i.location.path));
    assert.ok(common.length > 0);
    for (const i of common) {
      assert.equal(i.fingerprint, byPath.get(i.location.path)!.fingerprint);
      assert.equal(i.fingerprint, codequalityFingerprint(i.location.path));
    }
    assert.notEqual(codequalityFingerprint("a.png"), codequalityFingerprint("b.png"));
  });

  it("marks uncalibrated flags minor, and is an empty array when nothing is flagged", () => {
    const robust = JSON.parse(renderCodequality(fixtureReport("robust"))) as CodequalityIssue[];
    assert.ok(robust.every((i) => i.severity === "minor"));
    assert.deepEqual(JSON.parse(renderCodequality(fixtureReport("fpr", { memorized: 0, candidates: 20 }))).filter(() => false), []);
  });
});

describe("Markdown summary", () => {
  it("states the counts, the method and the top flagged points", () => {
    const report = fixtureReport("fdr");
    const md = renderMarkdown(report);
    assert.match(md, new RegExp(`^## sslmem: ${report.summary.flagged} of 240 candidates flagged as memorized`));
    assert.match(md, /\| Flag method \| fdr \(/);
    assert.match(md, /calibrated/);
    const rows = md.split("\n").filter((l) => /^\| .* \| [-0-9.e]+ ± /.test(l));
    assert.equal(rows.length, Math.min(MARKDOWN_TOP_POINTS, report.summary.flagged));
  });

  it("escapes hostile point ids: no raw markup, no broken table rows", () => {
    const md = renderMarkdown(fixtureReport("fpr"));
    assert.doesNotMatch(md, /<script>/);
    assert.equal(markdownText("a|b*c_d`e[f](g)"), "a\\|b\\*c\\_d\\`e\\[f\\](g)");
    assert.doesNotMatch(md, /\u001b/);
    for (const line of md.split("\n").filter((l) => l.startsWith("| ") && l.includes("±"))) {
      const unescapedPipes = line.replace(/\\\|/g, "").split("|").length - 1;
      assert.equal(unescapedPipes, 5, `row keeps 4 cells: ${line}`);
    }
    assert.equal(markdownText(HOSTILE_IDS[7]), "&lt;script&gt;alert(1)&lt;/script&gt;.jpg");
  });

  it("says when the flags are uncalibrated", () => {
    assert.match(renderMarkdown(fixtureReport("robust")), /\*\*uncalibrated\*\* \(no controls\)/);
  });
});
