/**
 * What a database dialect provides to CheckedStore (checked-store.ts): its SQL and how it makes
 * each operation atomic, nothing else. Arguments arrive validated and normalized; results are
 * the store's records. Validation, error mapping, ids, the clock, the transition guard and page
 * assembly are CheckedStore's, once for both dialects (sqlite-store.ts, pg-store.ts).
 */
import type { AuditState } from "../core/audit-states.ts";
import type { AuditKind } from "../core/audit-kind.ts";
import type { DeliverySql, NewDeliveryRow, WatchSql } from "./delivery-dialect.ts";
import type { LayerDescription } from "../core/layermem.ts";
import type { LayerScoreRowOf, TokenRow } from "./rows.ts";
import type {
  AuditEventInput,
  AuditInputRole,
  AuditInputs,
  AuditPatch,
  AuditProgress,
  AuditRecord,
  BlobRecordInput,
  ForgetBlobResult,
  JsonObject,
  ResultFinalization,
  ResultRow,
  StoredEvent,
  StoredResult,
} from "./types.ts";
import type { UnitResultSql } from "./unit-result-types.ts";
import type { WatchTriggerRef } from "./watch-types.ts";
import type { ResultQuery } from "./validate.ts";

export interface NewAudit {
  id: string;
  tenant: string;
  kind: AuditKind;
  config: JsonObject;
  inputs: AuditInputs;
  idempotencyKey: string | null;
  requestHash: string | null;
  now: number;
  /** Refuse when this many audits (all tenants) are queued; checked in the insert's transaction. */
  maxQueued?: number;
  /** Refuse when this tenant has this many queued (its share); checked in the same transaction. */
  maxQueuedPerTenant?: number;
  /** Its first events (seq 1, 2, …) and its outbox rows: written with the row, in its transaction, only when `created`. */
  events: readonly AuditEventInput[];
  deliveries: readonly NewDeliveryRow[];
  /** The watch claim to settle in the same transaction; null: none. */
  settlesWatchTrigger: WatchTriggerRef | null;
}

/** How an insert ended; only `created` wrote anything. */
export type InsertAuditOutcome =
  | { kind: "created"; audit: AuditRecord }
  /** The audit already stored under the tenant's Idempotency-Key. */
  | { kind: "existing"; audit: AuditRecord }
  | { kind: "blob_missing"; role: AuditInputRole; digest: string }
  | { kind: "queue_full" }
  | { kind: "tenant_queue_full" };

export interface StateChange {
  id: string;
  from: readonly AuditState[];
  to: AuditState;
  now: number;
  /** Entering `running`: startedAt set on the first run, attempt + 1. */
  entersRunning: boolean;
  /** Entering a terminal state: finishedAt set. */
  entersTerminal: boolean;
  patch: AuditPatch;
}

export interface StoreDialect {
  /** The outbox and the watches: their SQL lives in its own module per dialect. */
  readonly deliveries: DeliverySql;
  readonly watches: WatchSql;
  /** The per-unit rows of UnitMem audits: their SQL lives in its own module per dialect. */
  readonly units: UnitResultSql;

  insertToken(token: { id: string; tenant: string; hash: Buffer; now: number }): Promise<void>;
  activeTokenByHash(hash: Buffer): Promise<{ id: string; tenant: string; hash: Buffer } | undefined>;
  revokeToken(id: string, now: number): Promise<boolean>;
  tokensOfTenant(tenant: string): Promise<TokenRow[]>;

  /** The row, its input references, first events and deliveries in one transaction: all or nothing. */
  insertAudit(audit: NewAudit): Promise<InsertAuditOutcome>;
  /** With `tenant`: null unless the audit is that tenant's. */
  auditById(id: string, tenant?: string): Promise<AuditRecord | null>;
  /** Newest first, ids below `before` (null: from the newest), at most `rows`. */
  auditsOfTenant(tenant: string, before: string | null, rows: number): Promise<AuditRecord[]>;
  auditsInStates(states: readonly AuditState[]): Promise<AuditRecord[]>;
  countByState(): Promise<{ state: AuditState; n: number }[]>;
  /** Finished before `before` (ms), inputs not purged, oldest first. */
  auditsFinishedBefore(before: number, limit: number): Promise<AuditRecord[]>;
  /** One guarded UPDATE: false when the audit is not in one of `from`. */
  changeState(change: StateChange): Promise<boolean>;
  setProgress(id: string, progress: AuditProgress, now: number): Promise<boolean>;
  deleteAudit(tenant: string, id: string): Promise<boolean>;

  /**
   * Upserts in one transaction, each row's layer scores with it (replacing the ones stored for its
   * index); false (nothing written) when the audit no longer exists.
   */
  upsertResults(auditId: string, rows: readonly ResultRow[]): Promise<boolean>;
  countResults(auditId: string, query: ResultQuery): Promise<number>;
  maxCommittedIndex(auditId: string): Promise<number | null>;
  committedIndices(auditId: string, from: number | null, to: number | null): Promise<number[]>;
  /** One transaction; throws neverStored (store-errors.ts) for an unknown index, rolling all back. */
  finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void>;
  /** Index order, indices above `after`, skipping `offset`, at most `limit`. */
  resultsAfterIndex(auditId: string, query: ResultQuery, after: number, limit: number, offset: number): Promise<StoredResult[]>;
  /** Highest scoreNormalized first (unfinalized last), ties by index. */
  resultsByScore(auditId: string, query: ResultQuery, limit: number, offset: number): Promise<StoredResult[]>;
  /** The layer scores of these result indices, ordered by index then layer. */
  layerScoresOf(auditId: string, indices: readonly number[]): Promise<LayerScoreRowOf[]>;

  /** Replaces the audit's layers in one transaction; false (nothing written) when the audit no longer exists. */
  upsertLayers(auditId: string, layers: readonly LayerDescription[]): Promise<boolean>;
  /** In layer order. */
  layersOf(auditId: string): Promise<LayerDescription[]>;

  /** The new event's seq, allocated gap-free under the audit row's lock; null when the audit is gone. */
  appendEvent(auditId: string, type: string, data: JsonObject, now: number): Promise<number | null>;
  eventsAfter(auditId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;

  upsertBlob(blob: BlobRecordInput, now: number): Promise<void>;
  tenantHasBlob(tenant: string, digest: string): Promise<boolean>;
  /** Bytes of the blobs the tenant owns, its number of audits and of their LayerMem layers. */
  tenantUsage(tenant: string): Promise<{ blobBytes: number | string; audits: number | string; layerSets: number | string }>;
  blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[]): Promise<string[]>;
  markInputsPurged(auditId: string, roles: readonly AuditInputRole[], now: number): Promise<void>;
  forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult>;

  /** Writes `nonce` to the probe table and reads it back. */
  healthProbe(nonce: string, now: number): Promise<unknown>;
  close(): Promise<void>;
}
