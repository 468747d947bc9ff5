/**
 * The CI gate: what makes an audit fail a release, decided from the report alone (so `sslmem gate`
 * re-applies it offline to a saved report and gets the same answer).
 *
 *   --gate evidence [--level L]  trips when the set-level rank test finds evidence (p ≤ L);
 *                                inconclusive without controls (there is no test to run)
 *   --fail-on-flagged N          trips when more than N candidates are flagged
 *   --require-calibrated         inconclusive when the flags are uncalibrated
 *   --strict                     inconclusive when the encoder health diagnostics warn
 *
 * A tripped gate wins over an inconclusive one: a finding is reported as a finding.
 */
import type { ReportV1 } from "../core/report.ts";
import { evidenceSentence, flagCountSentence } from "../report/verdict-text.ts";
import { formatNumber, formatPValue } from "../report/numbers.ts";
import { EXIT, UsageError, type ExitCode } from "./errors.ts";
import { num } from "./parse-flags.ts";

export interface GateSpec {
  failOnFlagged?: number;
  /** --gate evidence: the level of the rank test (default: the report's, 0.01). */
  evidence?: { level?: number };
  requireCalibrated: boolean;
  strict: boolean;
}

export const GATE_OPTIONS = {
  gate: { type: "string" },
  level: { type: "string" },
  "fail-on-flagged": { type: "string" },
  "require-calibrated": { type: "boolean" },
  strict: { type: "boolean" },
} as const;

export const GATE_HELP = `Gate (exit 2 when tripped, 3 when inconclusive):
  --gate evidence          trip on evidence of memorization: the one-sided Mann–Whitney test of
                           candidate vs control scores has p ≤ --level (needs controls, else exit 3)
  --level L                level of the evidence test (default 0.01)
  --fail-on-flagged N      trip when more than N candidates are flagged (about α·n clean candidates
                           are flagged by chance with fpr: see 'expected by chance' in the summary)
  --require-calibrated     exit 3 when the flags are uncalibrated (no or too few controls)
  --strict                 exit 3 when the encoder health diagnostics warn`;

/** The gate flags of `audit` and `gate`, checked. */
export function gateSpecFromFlags(values: Record<string, string | boolean | string[] | undefined>): GateSpec {
  const gate = values.gate as string | undefined;
  if (gate !== undefined && gate !== "evidence") throw new UsageError(`--gate takes 'evidence' (the rank test of the whole set); got '${gate}'. For a flag count use --fail-on-flagged N`);
  const level = num("level", values.level as string | undefined);
  if (level !== undefined && !(level > 0 && level < 0.5)) throw new UsageError("--level takes a number in (0, 0.5), e.g. 0.01");
  if (level !== undefined && gate === undefined) throw new UsageError("--level sets the level of --gate evidence; add --gate evidence");
  const failOn = num("fail-on-flagged", values["fail-on-flagged"] as string | undefined);
  if (failOn !== undefined && (!Number.isInteger(failOn) || failOn < 0)) {
    throw new UsageError("--fail-on-flagged takes a non-negative integer: the gate trips when more points than this are flagged");
  }
  return {
    failOnFlagged: failOn,
    evidence: gate === "evidence" ? { level } : undefined,
    requireCalibrated: Boolean(values["require-calibrated"]),
    strict: Boolean(values.strict),
  };
}

export function hasGate(spec: GateSpec): boolean {
  return spec.failOnFlagged !== undefined || spec.evidence !== undefined || spec.requireCalibrated || spec.strict;
}

export interface GateDecision {
  exit: ExitCode;
  /** Lines for stderr: the outcome first, then the verdict and the flag count. */
  lines: string[];
}

export function decideGate(report: ReportV1, spec: GateSpec): GateDecision {
  const { summary } = report;
  const tripped: string[] = [];
  const inconclusive: string[] = [];
  const passed: string[] = [];

  if (spec.evidence) {
    const e = summary.evidence;
    const level = spec.evidence.level ?? e?.level ?? 0.01;
    if (!e) inconclusive.push("--gate evidence needs controls (held-out images neither encoder saw); the audit had none");
    else if (e.pValue <= level) tripped.push(`evidence of memorization: rank test p = ${formatPValue(e.pValue)} ≤ --level ${formatNumber(level)}`);
    else passed.push(`no evidence: rank test p = ${formatPValue(e.pValue)} > --level ${formatNumber(level)}`);
  }
  if (spec.failOnFlagged !== undefined) {
    const expected = summary.flag.expectedFalseFlags;
    const chance = expected !== undefined ? ` (${formatNumber(expected, 3)} expected by chance)` : "";
    if (summary.flagged > spec.failOnFlagged) tripped.push(`${summary.flagged} flagged > --fail-on-flagged ${spec.failOnFlagged}${chance}`);
    else passed.push(`${summary.flagged} flagged ≤ --fail-on-flagged ${spec.failOnFlagged}${chance}`);
  }
  if (spec.requireCalibrated) {
    if (!summary.flag.calibrated) inconclusive.push(`the ${summary.flag.method} flags are uncalibrated and --require-calibrated is set${summary.flag.warnings[0] ? `: ${summary.flag.warnings[0]}` : ""}`);
    else passed.push("flags calibrated");
  }
  if (spec.strict) {
    if (!summary.health) inconclusive.push("--strict needs the encoder health diagnostics, and this report has none");
    else if (summary.health.warnings.length > 0) inconclusive.push(`encoder health warnings with --strict: ${summary.health.warnings.join("; ")}`);
    else passed.push("encoder health checks passed");
  }

  const detail = [`sslmem: verdict: ${evidenceSentence(summary).text}`, `sslmem: ${flagCountSentence(summary)}`];
  if (tripped.length > 0) return { exit: EXIT.gateTripped, lines: [`sslmem: gate TRIPPED: ${tripped.join("; ")}`, ...detail] };
  if (inconclusive.length > 0) return { exit: EXIT.inconclusive, lines: [`sslmem: gate INCONCLUSIVE: ${inconclusive.join("; ")}`, ...detail] };
  if (!hasGate(spec)) return { exit: EXIT.ok, lines: ["sslmem: no gate set (see --gate evidence, --fail-on-flagged)", ...detail] };
  return { exit: EXIT.ok, lines: [`sslmem: gate passed: ${passed.join("; ")}`, ...detail] };
}

/** Applies the gate and writes its lines to stderr; returns the exit code. */
export function applyGate(report: ReportV1, spec: GateSpec, stderr: NodeJS.WritableStream = process.stderr): ExitCode {
  const decision = decideGate(report, spec);
  stderr.write(decision.lines.join("\n") + "\n");
  return decision.exit;
}
