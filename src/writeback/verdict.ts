/**
 * The verdict of an ended audit under a watch's gate, as written back to the registry:
 * `pass` (at most `failOnFlagged` candidates flagged), `fail` (more), `inconclusive` (nothing
 * could be scored: the audit failed or was cancelled). The same rule as the CLI gate
 * (src/cli/outputs.ts applyGate: more than N flagged trips it).
 */
import type { AuditRecord } from "../store/types.ts";

export type Verdict = "pass" | "fail" | "inconclusive";

export interface Gate {
  /** More flagged candidates than this trips the gate. */
  failOnFlagged: number;
}

export function verdictOf(audit: Pick<AuditRecord, "state" | "summary">, gate: Gate): { verdict: Verdict; flagged: number | null } {
  const flagged = audit.summary?.flagged;
  if (audit.state !== "succeeded" || typeof flagged !== "number") return { verdict: "inconclusive", flagged: null };
  return { verdict: flagged > gate.failOnFlagged ? "fail" : "pass", flagged };
}
