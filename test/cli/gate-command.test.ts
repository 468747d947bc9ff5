/**
 * `sslmem gate REPORT.json …` through the real binary: every exit code (0 passed, 2 tripped,
 * 3 inconclusive, 1 error) and the argument errors, on saved reports built by the report model.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ReportV1 } from "../../src/core/report.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { runCli } from "./run-cli.ts";

function save(dir: string, name: string, report: ReportV1): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(report));
  return path;
}

describe("sslmem gate", () => {
  let dir: string;
  let memorized: string; // controls, evidence, many flags
  let clean: string; // controls, no evidence
  let noControls: string; // robust: uncalibrated, no evidence test
  let memorizedReport: ReportV1;
  let cleanReport: ReportV1;

  before(() => {
    dir = tempDir();
    memorizedReport = fixtureReport("fpr", { memorized: 0.3, hostileIds: false, seed: 11 });
    cleanReport = fixtureReport("fpr", { memorized: 0, hostileIds: false, seed: 4 });
    memorized = save(dir, "memorized.json", memorizedReport);
    clean = save(dir, "clean.json", cleanReport);
    noControls = save(dir, "robust.json", fixtureReport("robust", { hostileIds: false }));
    assert.equal(memorizedReport.summary.evidence?.evidence, true, "the memorized fixture has evidence");
    assert.equal(cleanReport.summary.evidence?.evidence, false, "the clean fixture has none");
  });

  it("--gate evidence: 2 on evidence, 0 without, 3 without controls", async () => {
    const tripped = await runCli(["gate", memorized, "--gate", "evidence"]);
    assert.equal(tripped.status, 2, tripped.stderr);
    assert.match(tripped.stderr, /^sslmem: gate TRIPPED: evidence of memorization: rank test p = \S+ ≤ --level 0\.01/m);
    assert.match(tripped.stderr, /^sslmem: verdict: evidence of memorization beyond chance at level 0\.01: AUC/m);
    assert.match(tripped.stderr, /candidates flagged \(\S+; fpr, calibrated; \S+ expected by chance; count p = /);

    const passed = await runCli(["gate", clean, "--gate", "evidence"]);
    assert.equal(passed.status, 0, passed.stderr);
    assert.match(passed.stderr, /^sslmem: gate passed: no evidence: rank test p = \S+ > --level 0\.01/m);

    // A level above the p-value trips the same report: the decision is the p-value against --level.
    const p = cleanReport.summary.evidence!.pValue;
    const loose = await runCli(["gate", clean, "--gate", "evidence", "--level", String(Math.min(0.49, p * 1.01 + 1e-9))]);
    assert.equal(loose.status, p * 1.01 + 1e-9 < 0.49 ? 2 : 0, loose.stderr);

    const inconclusive = await runCli(["gate", noControls, "--gate", "evidence"]);
    assert.equal(inconclusive.status, 3, inconclusive.stderr);
    assert.match(inconclusive.stderr, /gate INCONCLUSIVE: --gate evidence needs controls/);
  });

  it("--fail-on-flagged N: 2 above N, 0 at N; --require-calibrated: 3 on uncalibrated flags", async () => {
    const n = memorizedReport.summary.flagged;
    assert.ok(n > 1);
    const above = await runCli(["gate", memorized, "--fail-on-flagged", String(n - 1)]);
    assert.equal(above.status, 2, above.stderr);
    assert.match(above.stderr, new RegExp(`gate TRIPPED: ${n} flagged > --fail-on-flagged ${n - 1} \\(\\S+ expected by chance\\)`));
    const at = await runCli(["gate", memorized, "--fail-on-flagged", String(n)]);
    assert.equal(at.status, 0, at.stderr);
    assert.match(at.stderr, new RegExp(`gate passed: ${n} flagged ≤ --fail-on-flagged ${n}`));

    const uncalibrated = await runCli(["gate", noControls, "--require-calibrated"]);
    assert.equal(uncalibrated.status, 3, uncalibrated.stderr);
    assert.match(uncalibrated.stderr, /gate INCONCLUSIVE: the robust flags are uncalibrated and --require-calibrated is set/);
    const calibrated = await runCli(["gate", clean, "--require-calibrated"]);
    assert.equal(calibrated.status, 0, calibrated.stderr);
    // A tripped gate wins over an inconclusive one.
    assert.ok(fixtureReport("robust", { hostileIds: false }).summary.flagged > 0, "the robust fixture flags some");
    const both = await runCli(["gate", noControls, "--require-calibrated", "--fail-on-flagged", "0"]);
    assert.equal(both.status, 2, both.stderr);
  });

  it("argument and file errors exit 1 with one line naming what to fix", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["gate", clean, "--fail-on-flaged", "0"], /^error: unknown option '--fail-on-flaged' — did you mean --fail-on-flagged\? \(see 'sslmem gate --help'\)$/m],
      [["gate", clean, "--format", "table"], /^error: unknown option '--format' \(see 'sslmem gate --help'\)$/m],
      [["gate", clean], /no gate given: pass --gate evidence, --fail-on-flagged N/],
      [["gate", clean, "--fail-on-flagged", "-1"], /--fail-on-flagged needs a value; a value starting with '-' is written --fail-on-flagged=VALUE/],
      [["gate", clean, "--fail-on-flagged=-1"], /--fail-on-flagged takes a non-negative integer/],
      [["gate", clean, "--gate", "flags"], /--gate takes 'evidence'/],
      [["gate", clean, "--gate", "evidence", "--level", "5"], /--level takes a number in \(0, 0\.5\)/],
      [["gate", clean, "--fail-on-flagged"], /^error: --fail-on-flagged needs a value/m],
      [["gate", join(dir, "missing.json"), "--fail-on-flagged", "0"], /error \[invalid_config\]: cannot read report '.*missing\.json'/],
      [["gate", clean, clean, "--fail-on-flagged", "0"], /pass exactly one report file/],
    ];
    const html = join(dir, "report.html");
    writeFileSync(html, "<!doctype html><html></html>");
    cases.push([["gate", html, "--fail-on-flagged", "0"], /is not JSON \(it is an HTML report\); pass the JSON report written by 'sslmem audit -o report\.json'/]);
    const notReport = join(dir, "other.json");
    writeFileSync(notReport, JSON.stringify({ hello: 1 }));
    cases.push([["gate", notReport, "--fail-on-flagged", "0"], /is not an sslmem\.report\/v1 document/]);
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, "no stack trace");
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    }
  });
});
