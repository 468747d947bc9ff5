/**
 * The persistence contract of the service: tokens, audits, per-point results, SSE events and blob
 * ownership. Every method is async so that the embedded SQLite store and a PostgreSQL store (scaled
 * mode) implement the same interface; test/store/store-contract.ts is the suite both must pass.
 *
 * Timestamps are ISO-8601 strings (UTC, millisecond precision). JSON columns round-trip through
 * JSON.stringify/parse: `undefined` properties are dropped.
 */
import type { PointRole } from "../core/image.ts";
import type { AuditState } from "../core/audit-states.ts";
import type { AuditKind } from "../core/audit-kind.ts";
import type { LayerDescription } from "../core/layermem.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import type { AuditDeliveryInput, OutboxStore } from "./outbox-types.ts";
import type { UnitResultStore } from "./unit-result-types.ts";
import type { WatchStore, WatchTriggerRef } from "./watch-types.ts";

export type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Tokens

export interface CreatedToken {
  id: string;
  /** The bearer token in plaintext. Returned once, never stored (only its SHA-256 is). */
  token: string;
}

export interface TokenPrincipal {
  tenant: string;
  tokenId: string;
}

export interface TokenInfo {
  id: string;
  tenant: string;
  createdAt: string;
  revokedAt: string | null;
}

// ---------------------------------------------------------------------------------------------
// Audits


/** Which input of an audit a blob is. */
export const AUDIT_INPUT_ROLES = ["target", "reference", "candidates", "controls"] as const;
export type AuditInputRole = (typeof AUDIT_INPUT_ROLES)[number];

/**
 * Blob digests ("sha256:<64 hex>") of an audit's inputs. An SSLMem audit has a reference; a
 * UnitMem audit has one encoder (stored as `target`) and no reference or controls.
 */
export interface AuditInputs {
  target: string;
  reference?: string;
  candidates: string;
  controls?: string;
}

export interface AuditProgress {
  stage: string;
  done: number;
  total: number;
  etaSeconds?: number;
}

export interface AuditRecord {
  /** "aud_" + 26 Crockford base32 chars, time-prefixed: ids sort by creation. */
  id: string;
  tenant: string;
  /** What the audit measures (core/audit-kind.ts); audits stored before kinds existed are `sslmem`. */
  kind: AuditKind;
  state: AuditState;
  config: JsonObject;
  inputs: AuditInputs;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: string;
  updatedAt: string;
  /** First time the audit entered `running`. */
  startedAt: string | null;
  /** When it entered a terminal state. */
  finishedAt: string | null;
  progress: AuditProgress | null;
  summary: JsonObject | null;
  /** A problem object (RFC 9457 shape) when failed. */
  error: JsonObject | null;
  /** Report metadata (engine, providers, timings…). */
  report: JsonObject | null;
  /** How many times the audit entered `running`. */
  attempt: number;
  /**
   * How many times a process died while the audit was running (counted when the next start finds
   * it still `running`): the crash-loop protection fails it after SSLMEM_MAX_AUDIT_CRASHES.
   */
  crashes: number;
  /** When retention or DELETE purged the audit's candidate inputs. */
  inputsPurgedAt: string | null;
}

export interface CreateAuditInput {
  tenant: string;
  /** Default `sslmem`. */
  kind?: AuditKind;
  config: JsonObject;
  inputs: AuditInputs;
  /** Idempotency-Key header; unique per tenant. */
  idempotencyKey?: string;
  /** Hash of the request body; a replay with the same key must carry the same hash. */
  requestHash?: string;
  /**
   * Admission control: refuse with `queue_full` when this many audits (all tenants) are already
   * `queued`. Checked in the same transaction as the insert and after the Idempotency-Key lookup,
   * so concurrent submissions cannot overshoot the limit and a replay of an accepted request is
   * answered even while the queue is full. Omitted: no limit.
   */
  maxQueued?: number;
  /** Admission control per tenant: refuse with `queue_full` when this tenant has this many `queued` (same transaction). */
  maxQueuedPerTenant?: number;
  /**
   * The audit's first events (seq 1, 2, … in this order), written in the insert's transaction:
   * a reader never sees the audit without them. A replay writes none.
   */
  events?: readonly AuditEventInput[];
  /**
   * Its outbox deliveries (completion callback, verdict write-back), written in the same
   * transaction: an audit exists with its deliveries or not at all (the outbox pattern). Each
   * kind at most once; the key is `<kind>:<audit id>`. A replay writes none.
   */
  deliveries?: readonly AuditDeliveryInput[];
  /** The watch's pending claim this audit answers: settled in the same transaction (a replay settles nothing). */
  settlesWatchTrigger?: WatchTriggerRef;
}

export interface CreateAuditResult {
  audit: AuditRecord;
  /** false when an earlier audit with the same Idempotency-Key was returned. */
  created: boolean;
}

/** Fields written together with a state transition (null clears, undefined leaves as is). */
export interface AuditPatch {
  /** Count one more process death while the audit ran (crashes + 1). */
  countCrash?: boolean;
  progress?: AuditProgress | null;
  summary?: JsonObject | null;
  error?: JsonObject | null;
  report?: JsonObject | null;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface ListAuditsOptions {
  /** 1…1000. */
  limit: number;
  cursor?: string | null;
}

// ---------------------------------------------------------------------------------------------
// Per-point results

/**
 * One measured point; `index` is its global position in the audit (unique per audit). Its
 * `layers` (LayerMem), when present, are stored with it in the same transaction, in the order of
 * the audit's layers (LayerStore).
 */
export interface ResultRow extends PointMeasurement {
  index: number;
}

/** A stored point; the batch-level fields are absent until finalizeResults. */
export interface StoredResult extends ResultRow {
  scoreNormalized?: number;
  pValue?: number;
  flagged?: boolean;
}

export interface ResultFinalization {
  index: number;
  scoreNormalized: number;
  pValue?: number;
  flagged: boolean;
}

export interface ResultFilter {
  flaggedOnly?: boolean;
  role?: PointRole;
}

export interface ReadResultsOptions extends ResultFilter {
  /** 1…10000. */
  limit: number;
  /** Skip this many matching rows (index order or score order). */
  offset?: number;
  /** From a previous page's nextCursor; index order only. */
  cursor?: string | null;
  /** "index" (default) or highest scoreNormalized first (ties by index). */
  order?: "index" | "scoreNormalizedDesc";
  /** Attach each row's per-layer scores (`layers`, in layer order) when it has any. */
  layers?: boolean;
}

export interface IterateResultsOptions extends ResultFilter {
  /** Rows fetched per query (default 1000). */
  chunkSize?: number;
  /** Attach each row's per-layer scores (`layers`, in layer order) when it has any. */
  layers?: boolean;
}

export interface IndexRange {
  /** inclusive */
  from?: number;
  /** exclusive */
  to?: number;
}

// ---------------------------------------------------------------------------------------------
// Events (SSE)

export interface AuditEventInput {
  type: string;
  data: JsonObject;
}

export interface StoredEvent extends AuditEventInput {
  /** 1, 2, 3… per audit; the SSE `id:`. */
  seq: number;
  createdAt: string;
}

// ---------------------------------------------------------------------------------------------
// Blob ownership (the bytes live in a BlobStore; this records who uploaded what)

export interface TenantUsage {
  blobBytes: number;
  audits: number;
  /**
   * LayerMem layers measured by its audits: each stores one more score per point, as much as an
   * audit's own results, so the audit quota counts it like one more audit.
   */
  layerSets: number;
}

export interface BlobRecordInput {
  digest: string;
  size: number;
  tenant: string;
  /** Free-form hint ("model", "archive"…). */
  kind?: string;
}

export interface ForgetBlobResult {
  /** false when an audit of this tenant still references the digest (ownership kept). */
  forgotten: boolean;
  /** true when no tenant owns the digest and no audit references it: its bytes may be deleted. */
  orphaned: boolean;
}

// ---------------------------------------------------------------------------------------------

// The store as its consumers see it: each takes the one or two interfaces it uses. `Store` is
// all of them, what an implementation provides.

export interface TokenStore {
  createToken(tenant: string): Promise<CreatedToken>;
  /** null for unknown, malformed or revoked tokens. */
  authenticate(token: string): Promise<TokenPrincipal | null>;
  /** true when the token existed and was not already revoked. */
  revokeToken(id: string): Promise<boolean>;
  listTokens(tenant: string): Promise<TokenInfo[]>;
}

export interface AuditReader {
  /** null when the audit does not exist or belongs to another tenant. */
  getAudit(tenant: string, id: string): Promise<AuditRecord | null>;
  /** Any tenant; for the job runner. */
  getAuditInternal(id: string): Promise<AuditRecord | null>;
  /** Newest first. */
  listAudits(tenant: string, options: ListAuditsOptions): Promise<Page<AuditRecord>>;
  /** All tenants, oldest first (FIFO): what to resume at startup. */
  listAuditsByState(states: readonly AuditState[]): Promise<AuditRecord[]>;
  countAuditsByState(): Promise<Record<AuditState, number>>;
  /** Terminal audits finished more than `hours` ago whose inputs were not purged yet, oldest first. */
  listFinishedAuditsOlderThan(hours: number, limit?: number): Promise<AuditRecord[]>;
  /** What one tenant stores: bytes of the blobs it owns and its audits (the storage quota). */
  tenantUsage(tenant: string): Promise<TenantUsage>;
}

/** Audit state writes: only src/audits/audit-service.ts calls these (test/audits/one-writer.test.ts). */
export interface AuditStateWriter {
  /**
   * Inserts a queued audit. Atomically honours the Idempotency-Key per tenant (same key + same
   * requestHash → the existing audit, created=false; different hash → `idempotency_conflict`).
   * Every input digest must be owned by the tenant (recordBlob), else `blob_not_found`.
   */
  createAudit(input: CreateAuditInput): Promise<CreateAuditResult>;
  /**
   * Moves the audit to `to` if its state is one of `from`; false otherwise (or if it does not
   * exist). Sets startedAt (first run) and attempt+1 on entering running, finishedAt on entering a
   * terminal state. An edge outside ALLOWED_TRANSITIONS is a programming error (throws `internal`).
   */
  transition(id: string, from: readonly AuditState[], to: AuditState, patch?: AuditPatch): Promise<boolean>;
  /** Updates progress of a running audit; false if it is not running. */
  setProgress(id: string, progress: AuditProgress): Promise<boolean>;
}

export interface AuditStore extends AuditReader, AuditStateWriter {
  /** Removes the audit, its results (with their layer rows), layers and events. false when not found for this tenant. */
  deleteAudit(tenant: string, id: string): Promise<boolean>;
}

/** What the engine reads and writes while it measures and finalizes one audit. */
export interface MeasurementStore {
  /** Upserts rows by (auditId, index) in one transaction. Throws `not_found` for a deleted audit. */
  appendResults(auditId: string, rows: readonly ResultRow[]): Promise<void>;
  /** Stored indices in [from, to), ascending. */
  committedIndices(auditId: string, range?: IndexRange): Promise<number[]>;
  /** Writes the batch-level fields in one transaction; throws `internal` for an unknown index. */
  finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void>;
  /** Every matching row in index order, fetched in chunks: memory bounded by the chunk. */
  iterateResults(auditId: string, options?: IterateResultsOptions): AsyncIterable<StoredResult>;
  /** Rows stored so far (a shard's progress counts every shard's rows). */
  countResults(auditId: string, filter?: ResultFilter): Promise<number>;
}

export interface ResultStore extends MeasurementStore {
  /** Highest stored index, or null when none. */
  maxCommittedIndex(auditId: string): Promise<number | null>;
  readResults(auditId: string, options: ReadResultsOptions): Promise<Page<StoredResult>>;
}

/** LayerMem: the layers an audit measures (their per-point scores travel with the result rows). */
export interface LayerStore {
  /**
   * Records the audit's layers in order, replacing what was recorded (a resumed audit or another
   * shard records the same). Throws `not_found` for a deleted audit.
   */
  recordLayers(auditId: string, layers: readonly LayerDescription[]): Promise<void>;
  /** The audit's layers in order; empty when it measures none or has not resolved them yet. */
  auditLayers(auditId: string): Promise<LayerDescription[]>;
}

export interface EventLog {
  /** Returns the event's seq (monotonic per audit, from 1). Only the AuditService appends. */
  appendEvent(auditId: string, event: AuditEventInput): Promise<number>;
  readEvents(auditId: string, afterSeq: number, limit?: number): Promise<StoredEvent[]>;
}

export interface BlobOwnership {
  /** Records that `tenant` uploaded these bytes (idempotent). */
  recordBlob(blob: BlobRecordInput): Promise<void>;
  tenantHasBlob(tenant: string, digest: string): Promise<boolean>;
  /** Digests of the audit's (still referenced) inputs that no other audit references. */
  blobsReferencedOnlyBy(auditId: string, roles?: readonly AuditInputRole[]): Promise<string[]>;
  /** Drops the audit's references to those inputs and stamps inputsPurgedAt. */
  markInputsPurged(auditId: string, roles: readonly AuditInputRole[]): Promise<void>;
  /** Drops the tenant's ownership unless one of its audits still references the digest. */
  forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult>;
}

export interface StoreHealth {
  /** A write and a read in a scratch table; throws `store_failure` when either fails. */
  healthCheck(): Promise<void>;
}

export interface Store extends TokenStore, AuditStore, ResultStore, LayerStore, UnitResultStore, EventLog, BlobOwnership, StoreHealth, OutboxStore, WatchStore {
  /** Idempotent. */
  close(): Promise<void>;
}
