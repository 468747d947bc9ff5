/**
 * What a completion callback says: a Standard Webhooks message `{type, timestamp, data}` about
 * one audit's final state. Its id is derived from the audit and the state, so every retry of one
 * delivery carries the same `webhook-id` and a receiver can drop duplicates.
 */
import type { AuditRecord } from "../store/types.ts";

export interface CallbackMessage {
  id: string;
  body: string;
}

export function completionMessage(audit: AuditRecord, now: Date): CallbackMessage {
  const data = {
    id: audit.id,
    state: audit.state,
    summary: audit.summary ?? null,
    error: audit.error ?? null,
    links: { self: `/v1/audits/${audit.id}`, report: `/v1/audits/${audit.id}/report` },
  };
  return {
    id: `msg_${audit.id}_${audit.state}`,
    body: JSON.stringify({ type: `audit.${audit.state}`, timestamp: now.toISOString(), data }),
  };
}
