/** AuditRecord (store) → the Audit resource of the API: no tenant, no idempotency internals. */
import type { z } from "@hono/zod-openapi";
import type { LayerDescription } from "../core/layermem.ts";
import type { AuditRecord } from "../store/types.ts";
import type { AuditResourceSchema } from "./schemas.ts";

export type AuditResource = z.infer<typeof AuditResourceSchema>;

export function auditPath(id: string): string {
  return `/v1/audits/${id}`;
}

/** `layers`: the audit's LayerMem layers (LayerStore), shown when there are any. */
export function toAuditResource(audit: AuditRecord, layers: readonly LayerDescription[] = []): AuditResource {
  const self = auditPath(audit.id);
  return {
    id: audit.id,
    kind: audit.kind,
    state: audit.state,
    createdAt: audit.createdAt,
    updatedAt: audit.updatedAt,
    startedAt: audit.startedAt,
    finishedAt: audit.finishedAt,
    attempt: audit.attempt,
    inputs: { ...audit.inputs },
    inputsPurgedAt: audit.inputsPurgedAt,
    config: audit.config,
    progress: audit.progress,
    summary: audit.summary,
    // Stored by the runner as a Problem (auditFailureProblem); the schema describes it.
    error: audit.error as AuditResource["error"],
    ...(layers.length > 0 ? { layers: layers.map((l) => ({ ...l, shape: [...l.shape] })) } : {}),
    links: {
      self,
      results: `${self}/results`,
      report: `${self}/report`,
      events: `${self}/events`,
      cancel: `${self}:cancel`,
    },
  };
}
