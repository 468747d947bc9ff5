/**
 * SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps): one rule, SSLMEM001
 * "MemorizedTrainingImage", and one result per flagged candidate, located at the candidate's path.
 *
 * Level: "error" when the flags are calibrated (controls gave them an error guarantee), "warning"
 * when they are not (method robust, or threshold), so a dashboard does not present an outlier
 * heuristic with the weight of a calibrated finding. Locations are relative to the candidate set's
 * root, declared as the base id CANDIDATES; each path segment is percent-encoded so ids with
 * spaces, `#`, `?` or `:` stay one relative URI.
 */
import { displayId } from "../core/display-id.ts";
import type { ReportPoint, ReportV1 } from "../core/report.ts";
import { describeFlagMethod, flaggedPointReason } from "./flag-text.ts";
import { allWarnings, evidenceSentence, flagCountSentence, flaggedLabel, READING_GUIDE } from "./verdict-text.ts";

export const SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/** Where the measurement is defined: the SSLMem paper (Wang et al., ICLR 2024). */
export const SSLMEM_INFORMATION_URI = "https://arxiv.org/abs/2401.12233";
export const SARIF_RULE_ID = "SSLMEM001";
export const CANDIDATES_BASE_ID = "CANDIDATES";

/** A point id (a `/`-separated path relative to the candidate root) as a relative URI reference. */
export function pointIdToUri(id: string): string {
  return id.split("/").map(encodeURIComponent).join("/");
}

function rule(report: ReportV1) {
  const flag = report.summary.flag;
  return {
    id: SARIF_RULE_ID,
    name: "MemorizedTrainingImage",
    shortDescription: { text: "The memorization test flagged this training image." },
    fullDescription: {
      text:
        "SSLMem (Wang et al., ICLR 2024) compares how closely the target encoder, trained on the image, and a reference " +
        "encoder, trained without it, map augmented views of the image together. A much tighter alignment under the target " +
        "encoder than under the reference is evidence that the target memorized the image. A flag is a statistical test " +
        "outcome: with calibrated fpr flags about α × candidates are flagged by chance, so read it with the audit's verdict.",
    },
    help: {
      text:
        "Review the flagged image before releasing the encoder: remove it from the training data and retrain, train with " +
        "differential privacy, or accept the risk explicitly. Flags are calibrated only when the audit had controls " +
        `(held-out images neither encoder saw). This audit's flag method: ${flag.method}, ${describeFlagMethod(flag.method)}. ` +
        `This audit: ${flagCountSentence(report.summary)}; ${evidenceSentence(report.summary).text}. ` +
        `How to read an audit and what to do about flagged images: ${READING_GUIDE} in the sslmem repository.`,
    },
    defaultConfiguration: { level: "error" },
    properties: { tags: ["privacy", "memorization", "machine-learning"], precision: flag.calibrated ? "high" : "low" },
  };
}

function result(p: ReportPoint, report: ReportV1) {
  const flag = report.summary.flag;
  return {
    ruleId: SARIF_RULE_ID,
    ruleIndex: 0,
    level: flag.calibrated ? "error" : "warning",
    message: { text: `Training image "${displayId(p.id)}" ${flaggedLabel(p)} by the memorization test: ${flaggedPointReason(p, flag)}.` },
    locations: [{ physicalLocation: { artifactLocation: { uri: pointIdToUri(p.id), uriBaseId: CANDIDATES_BASE_ID } } }],
    properties: {
      score: p.score,
      scoreNormalized: p.scoreNormalized,
      ...(p.pValue !== undefined ? { pValue: p.pValue } : {}),
      stdErr: p.stdErr,
    },
  };
}

export function renderSarif(report: ReportV1): string {
  const { audit, summary } = report;
  const flagged = report.points.filter((p) => p.role === "candidate" && p.flagged);
  const sarif = {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "sslmem", informationUri: SSLMEM_INFORMATION_URI, rules: [rule(report)] } },
        automationDetails: { id: `sslmem/${audit.id}` },
        originalUriBaseIds: { [CANDIDATES_BASE_ID]: { description: { text: "The root of the audited candidate set." } } },
        results: flagged.map((p) => result(p, report)),
        properties: {
          auditId: audit.id,
          targetDigest: audit.target.digest,
          referenceDigest: audit.reference.digest,
          candidates: summary.candidates,
          controls: summary.controls,
          flagged: summary.flagged,
          flagMethod: summary.flag.method,
          flagParameters: summary.flag.parameters,
          calibrated: summary.flag.calibrated,
          ...(summary.flag.expectedFalseFlags !== undefined ? { expectedFalseFlags: summary.flag.expectedFalseFlags } : {}),
          ...(summary.flag.countPValue !== undefined ? { countPValue: summary.flag.countPValue } : {}),
          ...(summary.evidence ? { evidence: summary.evidence } : {}),
          verdict: evidenceSentence(summary).text,
          ...(summary.health ? { health: summary.health } : {}),
          warnings: allWarnings(summary),
        },
      },
    ],
  };
  return JSON.stringify(sarif, null, 2) + "\n";
}
