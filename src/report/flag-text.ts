/**
 * Words for the flag method and a flagged point, shared by every human-facing format so the table,
 * the HTML page, JUnit failures and SARIF messages describe a flag the same way.
 */
import type { FlagMethod } from "../core/audit-config.ts";
import type { ReportSummary } from "../core/report.ts";
import { formatNumber, formatPValue } from "./numbers.ts";

type FlagSummary = ReportSummary["flag"];

const METHOD_DESCRIPTIONS: Record<FlagMethod, string> = {
  fpr: "a candidate is flagged when its score exceeds the (1 − α) quantile of the controls' scores (per-point false-positive rate α)",
  fdr: "p-values from a covariate-dependent null fitted to the controls, flagged by Benjamini–Hochberg at false-discovery rate q",
  robust: "robust z-score of each candidate against the candidates' own median and MAD, flagged at z ≥ robustZ (no controls)",
  threshold: "a candidate is flagged when its normalized score reaches the threshold t",
};

export function describeFlagMethod(method: FlagMethod): string {
  return METHOD_DESCRIPTIONS[method];
}

/** Parameters in the report's own order, as `name=value` pairs. */
export function flagParameterPairs(flag: FlagSummary): Array<[string, string]> {
  return Object.entries(flag.parameters).map(([name, value]) => [name, formatNumber(value)]);
}

/** `fdr (q=0.05, controls=300, …)`: the method and its parameters on one line. */
export function flagMethodLabel(flag: FlagSummary): string {
  const params = flagParameterPairs(flag).map(([k, v]) => `${k}=${v}`);
  return params.length > 0 ? `${flag.method} (${params.join(", ")})` : flag.method;
}

export interface FlaggedPointNumbers {
  score: number;
  scoreNormalized: number;
  pValue?: number;
  stdErr?: number;
}

/** One line stating why a point was flagged: its numbers and the method that flagged it. */
export function flaggedPointReason(p: FlaggedPointNumbers, flag: FlagSummary): string {
  const parts = [`score ${formatNumber(p.score)}`];
  if (p.stdErr !== undefined) parts[0] += ` ± ${formatNumber(p.stdErr, 2)}`;
  parts.push(`scoreNormalized ${formatNumber(p.scoreNormalized)}`);
  if (p.pValue !== undefined) parts.push(`p-value ${formatPValue(p.pValue)}`);
  const calibration = flag.calibrated ? "calibrated" : "uncalibrated";
  return `${parts.join(", ")}; flagged by ${flagMethodLabel(flag)}, ${calibration}`;
}
