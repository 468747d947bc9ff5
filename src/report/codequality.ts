/**
 * GitLab Code Quality report (the `codequality` artifact of a job): one issue per flagged
 * candidate, so a merge request that changes the encoder shows which memorized images are new,
 * which remain and which were resolved.
 *
 * The fingerprint is what GitLab compares between the base and the head pipeline: it must stay
 * the same for the same finding across runs and model versions, so it hashes the rule and the
 * point's id only (not the score, the audit id or the encoder digest).
 * Severity: "major" when the flags are calibrated (controls), "minor" when they are not.
 */
import { createHash } from "node:crypto";
import { flaggedLabel } from "./verdict-text.ts";
import type { ReportV1 } from "../core/report.ts";
import { flaggedPointReason } from "./flag-text.ts";
import { SARIF_RULE_ID } from "./sarif.ts";
import { flaggedCandidatesByScore } from "./selection.ts";
import { displayId } from "../core/display-id.ts";

export const CODEQUALITY_CHECK_NAME = "sslmem-memorized-training-image";

export function codequalityFingerprint(pointId: string): string {
  return createHash("sha256").update(`${SARIF_RULE_ID}\u0000${pointId}`).digest("hex");
}

export function renderCodequality(report: ReportV1): string {
  const flag = report.summary.flag;
  const issues = flaggedCandidatesByScore(report).map((p) => ({
    type: "issue",
    check_name: CODEQUALITY_CHECK_NAME,
    description: `Training image "${displayId(p.id)}" ${flaggedLabel(p)} by the memorization test: ${flaggedPointReason(p, flag)}.`,
    categories: ["Security"],
    severity: flag.calibrated ? "major" : "minor",
    fingerprint: codequalityFingerprint(p.id),
    location: { path: p.id, lines: { begin: 1 } },
  }));
  return `${JSON.stringify(issues, null, 2)}\n`;
}
