/**
 * JUnit XML for CI test reporters (GitLab, Jenkins, GitHub actions that read JUnit): one
 * testsuite "sslmem" whose testcases are the candidates, a flagged candidate being a failure.
 * Controls are not audited training points and get no testcase.
 *
 * Size: above JUNIT_FULL_LISTING_LIMIT candidates, the passing testcases are collapsed into a
 * single passing testcase that states how many candidates passed. Flagged candidates are always
 * listed one by one (they are what a reader acts on); a CI page with 100 000 green rows is not
 * readable and makes some reporters time out, and the per-point list lives in the CSV/JSON report.
 *
 * Every attribute and text node goes through escapeMarkup: ids are uploaded file names and may
 * hold quotes, markup or control characters (the latter are invalid in XML 1.0 even as
 * references, and are replaced by U+FFFD).
 */
import { displayId } from "../core/display-id.ts";
import type { ReportPoint, ReportV1 } from "../core/report.ts";
import { flaggedPointReason } from "./flag-text.ts";
import { allWarnings, evidenceSentence, flagCountSentence, flaggedLabel, READING_GUIDE } from "./verdict-text.ts";
import { escapeMarkup } from "./markup.ts";
import { formatCount } from "./numbers.ts";

export const JUNIT_FULL_LISTING_LIMIT = 1000;
export const JUNIT_CLASSNAME = "sslmem.memorization";

function attrs(pairs: Record<string, string | number>): string {
  return Object.entries(pairs)
    .map(([k, v]) => ` ${k}="${escapeMarkup(String(v))}"`)
    .join("");
}

function failingCase(p: ReportPoint, report: ReportV1): string {
  const flag = report.summary.flag;
  const reason = flaggedPointReason(p, flag);
  const detail = [
    `Candidate ${displayId(p.id)} ${flaggedLabel(p)}: the target encoder aligns its views more tightly than the reference does.`,
    reason,
    `alignTarget ${p.alignTarget}, alignReference ${p.alignReference}`,
    ...allWarnings(report.summary).map((w) => `warning: ${w}`),
  ].join("\n");
  return (
    `    <testcase${attrs({ name: displayId(p.id), classname: JUNIT_CLASSNAME, time: 0 })}>\n` +
    `      <failure${attrs({ message: `${flaggedLabel(p)}: ${reason}`, type: "flagged" })}>${escapeMarkup(detail)}</failure>\n` +
    `    </testcase>\n`
  );
}

function passingCase(name: string): string {
  return `    <testcase${attrs({ name, classname: JUNIT_CLASSNAME, time: 0 })}/>\n`;
}

export function renderJunit(report: ReportV1): string {
  const { audit, summary } = report;
  const candidates = report.points.filter((p) => p.role === "candidate");
  const collapse = candidates.length > JUNIT_FULL_LISTING_LIMIT;
  const cases: string[] = [];
  let passing = 0;
  let failures = 0;
  for (const p of candidates) {
    if (p.flagged) {
      cases.push(failingCase(p, report));
      failures++;
    }
    else if (collapse) passing++;
    else cases.push(passingCase(displayId(p.id)));
  }
  if (collapse && passing > 0) {
    cases.push(passingCase(`${formatCount(passing)} candidates not flagged (listed individually in the CSV/JSON report)`));
  }
  const counts = { tests: cases.length, failures, errors: 0, skipped: 0, time: 0 };
  const properties: Array<[string, string | number]> = [
    ["sslmem.audit.id", audit.id],
    ["sslmem.target.digest", audit.target.digest],
    ["sslmem.reference.digest", audit.reference.digest],
    ["sslmem.candidates", summary.candidates],
    ["sslmem.controls", summary.controls],
    ["sslmem.flagged", summary.flagged],
    ["sslmem.flag.method", summary.flag.method],
    ["sslmem.flag.calibrated", String(summary.flag.calibrated)],
    ...Object.entries(summary.flag.parameters).map(([k, v]): [string, number] => [`sslmem.flag.${k}`, v]),
    ...(summary.flag.expectedFalseFlags !== undefined ? [["sslmem.flag.expectedFalseFlags", summary.flag.expectedFalseFlags] as [string, number]] : []),
    ...(summary.flag.countPValue !== undefined ? [["sslmem.flag.countPValue", summary.flag.countPValue] as [string, number]] : []),
    ...(summary.evidence
      ? ([
          ["sslmem.evidence", String(summary.evidence.evidence)],
          ["sslmem.evidence.pValue", summary.evidence.pValue],
          ["sslmem.evidence.auc", summary.evidence.auc],
          ["sslmem.evidence.level", summary.evidence.level],
        ] as Array<[string, string | number]>)
      : []),
    ...summary.flag.warnings.map((w): [string, string] => ["sslmem.flag.warning", w]),
    ...(summary.health?.warnings ?? []).map((w): [string, string] => ["sslmem.health.warning", w]),
  ];
  const systemOut = [
    `sslmem audit ${audit.id}: ${flagCountSentence(summary)}`,
    `verdict: ${evidenceSentence(summary).text}`,
    `how to read this audit: ${READING_GUIDE}`,
    ...(collapse ? [`${formatCount(passing)} passing candidates are summarized in one testcase (more than ${JUNIT_FULL_LISTING_LIMIT} candidates)`] : []),
    ...allWarnings(summary).map((w) => `warning: ${w}`),
  ].join("\n");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites${attrs({ name: "sslmem", ...counts })}>\n` +
    `  <testsuite${attrs({ name: "sslmem", ...counts, timestamp: audit.created })}>\n` +
    `    <properties>\n` +
    properties.map(([name, value]) => `      <property${attrs({ name, value })}/>\n`).join("") +
    `    </properties>\n` +
    cases.join("") +
    `    <system-out>${escapeMarkup(systemOut)}</system-out>\n` +
    `  </testsuite>\n` +
    `</testsuites>\n`
  );
}
