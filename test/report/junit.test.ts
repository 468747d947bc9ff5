import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { JUNIT_CLASSNAME, JUNIT_FULL_LISTING_LIMIT, renderJunit } from "../../src/report/junit.ts";
import { displayId } from "../../src/core/display-id.ts";
import { fixtureReport, HOSTILE_IDS } from "../helpers/report-fixture.ts";
import { findAll, parseXml } from "../helpers/report-xml.ts";

describe("JUnit report", () => {
  it("is well-formed, with a testcase per candidate and a failure per flagged one", () => {
    const report = fixtureReport("fdr");
    const xml = renderJunit(report);
    const root = parseXml(xml);
    assert.equal(root.name, "testsuites");
    const suites = findAll(root, "testsuite");
    assert.equal(suites.length, 1);
    assert.equal(suites[0].attrs.name, "sslmem");
    const cases = findAll(suites[0], "testcase");
    const candidates = report.points.filter((p) => p.role === "candidate");
    assert.equal(cases.length, candidates.length);
    assert.equal(suites[0].attrs.tests, String(candidates.length));
    assert.equal(suites[0].attrs.failures, String(report.summary.flagged));
    assert.ok(cases.every((c) => c.attrs.classname === JUNIT_CLASSNAME));
    // Names decode back to the ids as shown to a reader (control characters as \uXXXX escapes), in report order.
    assert.deepEqual(
      cases.map((c) => c.attrs.name),
      candidates.map((p) => displayId(p.id)),
    );
    const failing = cases.filter((c) => c.children.some((f) => f.name === "failure"));
    assert.deepEqual(
      failing.map((c) => c.attrs.name),
      candidates.filter((p) => p.flagged).map((p) => displayId(p.id)),
    );
    const msg = findAll(failing[0], "failure")[0].attrs.message;
    assert.match(msg, /score .*scoreNormalized .*p-value .*fdr \(q=0\.05/);
  });

  it("escapes hostile ids: quotes, markup, ampersands and control characters", () => {
    const xml = renderJunit(fixtureReport("robust"));
    assert.ok(xml.includes('name="a&quot;&lt;b&gt;&amp;c\\u0001.png"'));
    assert.ok(!xml.includes("<script>"));
    assert.ok(!xml.includes("\u0001") && !xml.includes("\u001b") && !xml.includes("\u0007"));
    const names = findAll(parseXml(xml), "testcase").map((c) => c.attrs.name);
    for (const id of HOSTILE_IDS) assert.ok(names.includes(displayId(id)), `${JSON.stringify(id)} is a testcase`);
  });

  it("the checker it relies on rejects what an escaping bug would produce", () => {
    assert.throws(() => parseXml('<a name="x"y"/>'));
    assert.throws(() => parseXml("<a>1 < 2</a>"));
    assert.throws(() => parseXml("<a>R&D</a>"));
    assert.throws(() => parseXml("<a>\u0001</a>"));
    assert.throws(() => parseXml("<a><b></a></b>"));
    assert.equal(parseXml('<a n="&quot;&#9;"/>').attrs.n, '"\t');
  });

  it(`collapses passing candidates into one testcase above ${JUNIT_FULL_LISTING_LIMIT} candidates`, () => {
    const report = fixtureReport("robust", { candidates: JUNIT_FULL_LISTING_LIMIT + 200, memorized: 0.02 });
    const root = parseXml(renderJunit(report));
    const cases = findAll(root, "testcase");
    const flagged = report.points.filter((p) => p.role === "candidate" && p.flagged);
    assert.ok(flagged.length > 0);
    assert.equal(cases.length, flagged.length + 1);
    const failing = cases.filter((c) => c.children.some((f) => f.name === "failure"));
    assert.equal(failing.length, flagged.length);
    const summary = cases.filter((c) => c.children.length === 0);
    assert.equal(summary.length, 1);
    const passing = report.summary.candidates - report.summary.flagged;
    assert.match(summary[0].attrs.name, new RegExp(`^${passing.toLocaleString("en-US")} candidates not flagged`));
    assert.equal(findAll(root, "testsuite")[0].attrs.tests, String(flagged.length + 1));
  });

  it("records the uncalibrated warning in properties and system-out", () => {
    const root = parseXml(renderJunit(fixtureReport("robust")));
    const props = findAll(root, "property");
    assert.ok(props.some((p) => p.attrs.name === "sslmem.flag.calibrated" && p.attrs.value === "false"));
    assert.ok(props.some((p) => p.attrs.name === "sslmem.flag.warning" && p.attrs.value.startsWith("flags are uncalibrated")));
    assert.match(findAll(root, "system-out")[0].text, /warning: flags are uncalibrated/);
  });
});
