/**
 * Argument checks shared by store implementations. The HTTP layer validates requests first; these
 * guard the store's own invariants (and the CLI, which calls the store directly).
 */
import { AUDIT_STATES, isTransitionAllowed, type AuditState } from "../core/audit-states.ts";
import { SslmemError } from "../core/errors.ts";
import { isAuditKind, type AuditKind } from "../core/audit-kind.ts";
import type { LayerDescription } from "../core/layermem.ts";
import { parseIndexCursor, parseOffsetCursor } from "./cursors.ts";
import type { AuditDeliveryInput } from "./outbox-types.ts";
import {
  AUDIT_INPUT_ROLES,
  type AuditEventInput,
  type AuditInputs,
  type BlobRecordInput,
  type ReadResultsOptions,
  type ResultFilter,
  type ResultFinalization,
  type ResultRow,
} from "./types.ts";

/** Page sizes the store accepts (the HTTP layer may allow less). */
export const MAX_LIST_LIMIT = 1000;
export const MAX_RESULTS_LIMIT = 10_000;

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === "string" && DIGEST_PATTERN.test(value);
}

export function assertDigest(value: unknown, what = "digest"): asserts value is string {
  if (!isDigest(value)) {
    throw new SslmemError("validation_failed", `${what} must be "sha256:" followed by 64 lowercase hex characters`);
  }
}

export function assertTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) {
    throw new SslmemError(
      "validation_failed",
      "tenant must be 1–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }
}

export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length < 1 || key.length > 255) {
    throw new SslmemError("validation_failed", "Idempotency-Key must be 1–255 characters");
  }
}

export function assertLimit(limit: unknown, max: number): asserts limit is number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new SslmemError("validation_failed", `limit must be an integer from 1 to ${max}`);
  }
}

export function assertFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) {
    // SQLite stores NaN as NULL and JSON cannot carry it: refuse rather than lose it silently.
    throw new SslmemError("internal", `${what} must be a finite number`);
  }
}

/** A result filter, checked: role or null, and whether only flagged rows count. */
export interface ResultQuery {
  role: string | null;
  flaggedOnly: boolean;
}

export function resultQuery(filter: ResultFilter | undefined): ResultQuery {
  const role = filter?.role ?? null;
  if (role !== null && role !== "candidate" && role !== "control") {
    throw new SslmemError("validation_failed", "role must be 'candidate' or 'control'");
  }
  return { role, flaggedOnly: filter?.flaggedOnly === true };
}

export function assertAuditStates(states: readonly string[]): void {
  for (const s of states) {
    if (!(AUDIT_STATES as readonly string[]).includes(s)) {
      throw new SslmemError("validation_failed", `unknown audit state '${s}'`);
    }
  }
}

export function assertInputRoles(roles: readonly string[]): void {
  for (const r of roles) {
    if (!(AUDIT_INPUT_ROLES as readonly string[]).includes(r)) {
      throw new SslmemError("validation_failed", `unknown audit input '${r}'`);
    }
  }
}

export function assertResultRow(row: ResultRow): void {
  if (!Number.isSafeInteger(row.index) || row.index < 0) {
    throw new SslmemError("internal", "result index must be a non-negative integer");
  }
  if (typeof row.id !== "string" || row.id.length === 0) {
    throw new SslmemError("internal", `result ${row.index} has no point id`);
  }
  if (row.role !== "candidate" && row.role !== "control") {
    throw new SslmemError("internal", `result ${row.index} has an unknown role`);
  }
  assertFinite(row.alignTarget, `alignTarget of result ${row.index}`);
  assertFinite(row.alignReference, `alignReference of result ${row.index}`);
  assertFinite(row.score, `score of result ${row.index}`);
  assertFinite(row.stdErr, `stdErr of result ${row.index}`);
  if (!Number.isSafeInteger(row.pairs) || row.pairs < 0) {
    throw new SslmemError("internal", `pairs of result ${row.index} must be a non-negative integer`);
  }
  row.layers?.forEach((l, i) => {
    assertFinite(l.alignTarget, `alignTarget of layer ${i} of result ${row.index}`);
    assertFinite(l.alignReference, `alignReference of layer ${i} of result ${row.index}`);
    assertFinite(l.score, `score of layer ${i} of result ${row.index}`);
    assertFinite(l.stdErr, `stdErr of layer ${i} of result ${row.index}`);
  });
}

export function assertLayerDescriptions(layers: readonly LayerDescription[]): void {
  for (const [i, l] of layers.entries()) {
    if ([l.name, l.target, l.reference].some((n) => typeof n !== "string" || n.length === 0)) {
      throw new SslmemError("internal", `layer ${i} needs a name, a target and a reference value`);
    }
    if (!Array.isArray(l.shape) || !l.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(l.dim) || l.dim < 1) {
      throw new SslmemError("internal", `layer ${i} has an invalid shape or width`);
    }
  }
}

/** The inputs a kind of audit has: SSLMem needs a reference; UnitMem has one encoder (`target`) only. */
export function assertInputs(inputs: AuditInputs | undefined, kind: AuditKind = "sslmem"): AuditInputs {
  if (!isAuditKind(kind)) throw new SslmemError("validation_failed", `unknown audit kind '${String(kind)}'`);
  assertDigest(inputs?.target, "inputs.target");
  assertDigest(inputs.candidates, "inputs.candidates");
  if (kind === "sslmem") assertDigest(inputs.reference, "inputs.reference");
  else if (inputs.reference !== undefined || inputs.controls !== undefined) {
    throw new SslmemError("validation_failed", "a UnitMem audit has one encoder and candidates: no reference, no controls");
  }
  if (inputs.controls !== undefined) assertDigest(inputs.controls, "inputs.controls");
  // Only the known roles are stored, whatever else the object carried.
  return {
    target: inputs.target,
    ...(inputs.reference !== undefined ? { reference: inputs.reference } : {}),
    candidates: inputs.candidates,
    ...(inputs.controls !== undefined ? { controls: inputs.controls } : {}),
  };
}

export function assertBlobRecord(blob: BlobRecordInput): void {
  assertDigest(blob.digest);
  assertTenant(blob.tenant);
  if (!Number.isSafeInteger(blob.size) || blob.size < 0) {
    throw new SslmemError("validation_failed", "blob size must be a non-negative integer");
  }
}

export function assertEvent(event: AuditEventInput): void {
  if (typeof event.type !== "string" || event.type.length === 0) {
    throw new SslmemError("internal", "an event needs a type");
  }
}

export function assertFinalizations(updates: readonly ResultFinalization[]): void {
  for (const u of updates) {
    assertFinite(u.scoreNormalized, `scoreNormalized of result ${u.index}`);
    if (u.pValue !== undefined) assertFinite(u.pValue, `pValue of result ${u.index}`);
  }
}

export function assertHours(hours: number): void {
  if (!Number.isFinite(hours) || hours < 0) {
    throw new SslmemError("validation_failed", "hours must be a non-negative number");
  }
}

/** The edge must be one of the state machine's; anything else is a programming error. */
export function assertTransition(from: readonly AuditState[], to: AuditState): void {
  assertAuditStates([...from, to]);
  for (const f of from) {
    if (!isTransitionAllowed(f, to)) {
      throw new SslmemError("internal", `audit state cannot change from ${f} to ${to}`);
    }
  }
}

/** A results page request, checked: index order continues after a result index, score order at an offset. */
export type ResultsPage =
  | { order: "index"; limit: number; after: number; offset: number }
  | { order: "scoreNormalizedDesc"; limit: number; offset: number };

export function resultsPage(options: ReadResultsOptions): ResultsPage {
  assertLimit(options.limit, MAX_RESULTS_LIMIT);
  const order = options.order ?? "index";
  if (order !== "index" && order !== "scoreNormalizedDesc") {
    throw new SslmemError("validation_failed", "order must be 'index' or 'scoreNormalizedDesc'");
  }
  if (options.offset !== undefined && (!Number.isSafeInteger(options.offset) || options.offset < 0)) {
    throw new SslmemError("validation_failed", "offset must be a non-negative integer");
  }
  const cursor = options.cursor ?? null;
  if (cursor !== null && options.offset !== undefined) {
    throw new SslmemError("validation_failed", "give either cursor or offset, not both");
  }
  if (order === "index") {
    return { order, limit: options.limit, after: cursor !== null ? parseIndexCursor(cursor) : -1, offset: options.offset ?? 0 };
  }
  return { order, limit: options.limit, offset: cursor !== null ? parseOffsetCursor(cursor) : (options.offset ?? 0) };
}

/** Outbox keys and kinds, watch trigger keys: printable, bounded (they are unique keys). */
export function assertDeliveryKey(value: unknown, name: string): asserts value is string {
  if (typeof value !== "string" || value.length < 1 || value.length > 512 || /[\u0000-\u001f]/.test(value)) {
    throw new SslmemError("validation_failed", `${name} must be 1–512 printable characters`);
  }
}

/** An audit's deliveries (createAudit): a valid kind each, a JSON object payload, no kind twice (one key per kind). */
export function assertAuditDeliveries(deliveries: readonly AuditDeliveryInput[]): void {
  const kinds = new Set<string>();
  for (const d of deliveries) {
    assertDeliveryKey(d.kind, "a delivery's kind");
    if (d.payload === null || typeof d.payload !== "object" || Array.isArray(d.payload)) {
      throw new SslmemError("validation_failed", `the ${d.kind} delivery's payload must be a JSON object`);
    }
    if (kinds.has(d.kind)) throw new SslmemError("validation_failed", `an audit has at most one ${d.kind} delivery`);
    kinds.add(d.kind);
  }
}
