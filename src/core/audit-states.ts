/**
 * The audit state machine: the states, which are terminal, and the edges between them. Pure data:
 * the AuditService (src/audits/audit-service.ts) is the one module that moves audits along these
 * edges, and the store refuses any other edge as a programming error.
 */
export const AUDIT_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type AuditState = (typeof AUDIT_STATES)[number];
export const TERMINAL_STATES: readonly AuditState[] = ["succeeded", "failed", "cancelled"];

/**
 * Besides the obvious edges: running → queued puts an audit back in the queue (a restart, a
 * stalled shard), running → running restarts it in place (attempt + 1), queued → failed rejects
 * an audit before it starts (e.g. its inputs were purged). Terminal states have no way out.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<AuditState, readonly AuditState[]>> = {
  queued: ["running", "cancelled", "failed"],
  running: ["running", "queued", "succeeded", "failed", "cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function isTransitionAllowed(from: AuditState, to: AuditState): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

export function isTerminal(state: AuditState): boolean {
  return TERMINAL_STATES.includes(state);
}
