/**
 * What an audit measures. `sslmem` (the default): SSLMem scores of the candidates, from a target
 * and a reference encoder. `unitmem`: UnitMem of one encoder's units over the candidates
 * (core/unitmem.ts), no reference. The kind is fixed at submission and stored with the audit;
 * it decides which engine runs it, which rows it stores and which report it has.
 */
export const AUDIT_KINDS = ["sslmem", "unitmem"] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export function isAuditKind(value: unknown): value is AuditKind {
  return typeof value === "string" && (AUDIT_KINDS as readonly string[]).includes(value);
}
