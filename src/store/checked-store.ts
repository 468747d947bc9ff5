/**
 * The Store both dialects share: every argument check, the transition guard, ids, the clock,
 * driver-error mapping (`store_failure`), refusals with their messages, and page assembly live
 * here once; a StoreDialect (dialect.ts) supplies only SQL and atomicity. SqliteStore and
 * PgStore are this class over their dialect, plus their own diagnostics.
 */
import { randomUUID } from "node:crypto";
import { SslmemError } from "../core/errors.ts";
import { AUDIT_STATES, TERMINAL_STATES, type AuditState } from "../core/audit-states.ts";
import { assertAuditCursor, indexCursor, offsetCursor, parseIndexCursor, parseOffsetCursor } from "./cursors.ts";
import { UNIT_RESULT_ORDERS, assertUnitResult, type ReadUnitResultsOptions, type UnitResult, type UnitResultPage } from "./unit-result-types.ts";
import type { StoreDialect } from "./dialect.ts";
import { createIdGenerator, type IdGenerator } from "./ids.ts";
import type { Delivery, DeliverySettlement } from "./outbox-types.ts";
import type { LayerDescription } from "../core/layermem.ts";
import { attachLayerScores, toTokenInfo } from "./rows.ts";
import { WATCH_KINDS, type NewWatch, type WatchKind, type WatchRecord } from "./watch-types.ts";
import { blobNotUploaded, deletedAudit, guard, idempotencyConflict, queueFull, tenantQueueFull } from "./store-errors.ts";
import { generateToken, hashToken, looksLikeToken, tokenHashesEqual } from "./tokens.ts";
import {
  AUDIT_INPUT_ROLES,
  type AuditEventInput,
  type AuditInputRole,
  type AuditPatch,
  type AuditProgress,
  type AuditRecord,
  type BlobRecordInput,
  type CreateAuditInput,
  type CreateAuditResult,
  type CreatedToken,
  type ForgetBlobResult,
  type IndexRange,
  type IterateResultsOptions,
  type ListAuditsOptions,
  type Page,
  type ReadResultsOptions,
  type ResultFilter,
  type ResultFinalization,
  type ResultRow,
  type Store,
  type StoredEvent,
  type StoredResult,
  type TenantUsage,
  type TokenInfo,
  type TokenPrincipal,
} from "./types.ts";
import {
  MAX_LIST_LIMIT,
  MAX_RESULTS_LIMIT,
  assertAuditDeliveries,
  assertAuditStates,
  assertBlobRecord,
  assertDeliveryKey,
  assertEvent,
  assertFinalizations,
  assertHours,
  assertIdempotencyKey,
  assertInputRoles,
  assertInputs,
  assertLayerDescriptions,
  assertLimit,
  assertResultRow,
  assertTenant,
  assertTransition,
  resultQuery,
  resultsPage,
} from "./validate.ts";

const DEFAULT_CHUNK = 1000;

/** One entry per index, the last one given winning (as successive upserts would), in index order. */
function lastPerIndex<T extends { index: number }>(items: readonly T[]): T[] {
  const byIndex = new Map<number, T>();
  for (const item of items) byIndex.set(item.index, item);
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** The first `limit` rows, and whether the query found one more (the dialect is asked for limit + 1). */
function firstOf<T>(rows: readonly T[], limit: number): { items: T[]; more: boolean } {
  return { items: rows.slice(0, limit), more: rows.length > limit };
}

export class CheckedStore implements Store {
  readonly #sql: StoreDialect;
  readonly #now: () => number;
  readonly #newId: IdGenerator;

  protected constructor(sql: StoreDialect, now: () => number) {
    this.#sql = sql;
    this.#now = now;
    this.#newId = createIdGenerator(now);
  }

  // --- tokens --------------------------------------------------------------------------------

  async createToken(tenant: string): Promise<CreatedToken> {
    assertTenant(tenant);
    const id = this.#newId("tok_");
    const token = generateToken();
    await guard("create a token", () => this.#sql.insertToken({ id, tenant, hash: hashToken(token), now: this.#now() }));
    return { id, token };
  }

  async authenticate(token: string): Promise<TokenPrincipal | null> {
    if (typeof token !== "string" || !looksLikeToken(token)) return null;
    const hash = hashToken(token);
    const row = await guard("authenticate a token", () => this.#sql.activeTokenByHash(hash));
    if (!row || !tokenHashesEqual(row.hash, hash)) return null;
    return { tenant: row.tenant, tokenId: row.id };
  }

  async revokeToken(id: string): Promise<boolean> {
    return guard("revoke a token", () => this.#sql.revokeToken(id, this.#now()));
  }

  async listTokens(tenant: string): Promise<TokenInfo[]> {
    return (await guard("list tokens", () => this.#sql.tokensOfTenant(tenant))).map(toTokenInfo);
  }

  // --- audits --------------------------------------------------------------------------------

  async createAudit(input: CreateAuditInput): Promise<CreateAuditResult> {
    assertTenant(input.tenant);
    const kind = input.kind ?? "sslmem";
    const inputs = assertInputs(input.inputs, kind);
    if (input.idempotencyKey !== undefined) assertIdempotencyKey(input.idempotencyKey);
    const requestHash = input.requestHash ?? null;
    const events = input.events ?? [];
    for (const event of events) assertEvent(event);
    const deliveries = input.deliveries ?? [];
    assertAuditDeliveries(deliveries);
    const id = this.#newId("aud_");
    const outcome = await guard("create an audit", () =>
      this.#sql.insertAudit({
        id,
        tenant: input.tenant,
        kind,
        config: input.config ?? {},
        inputs,
        idempotencyKey: input.idempotencyKey ?? null,
        requestHash,
        now: this.#now(),
        ...(input.maxQueued !== undefined ? { maxQueued: input.maxQueued } : {}),
        ...(input.maxQueuedPerTenant !== undefined ? { maxQueuedPerTenant: input.maxQueuedPerTenant } : {}),
        events,
        // The key rule of an audit's deliveries, here once: one per kind and audit.
        deliveries: deliveries.map((d) => ({ id: this.#newId("dlv_"), key: `${d.kind}:${id}`, kind: d.kind, tenant: input.tenant, auditId: id, payload: d.payload })),
        settlesWatchTrigger: input.settlesWatchTrigger ?? null,
      }),
    );
    switch (outcome.kind) {
      case "created":
        return { audit: outcome.audit, created: true };
      case "existing":
        // A replay returns the stored audit; the same key with another body is a conflict.
        if (outcome.audit.requestHash !== requestHash) throw idempotencyConflict(outcome.audit.id);
        return { audit: outcome.audit, created: false };
      case "blob_missing":
        throw blobNotUploaded(outcome.role, outcome.digest);
      case "queue_full":
        throw queueFull(input.maxQueued ?? 0);
      case "tenant_queue_full":
        throw tenantQueueFull(input.maxQueuedPerTenant ?? 0);
    }
  }

  async getAudit(tenant: string, id: string): Promise<AuditRecord | null> {
    return guard("read an audit", () => this.#sql.auditById(id, tenant));
  }

  async getAuditInternal(id: string): Promise<AuditRecord | null> {
    return guard("read an audit", () => this.#sql.auditById(id));
  }

  async listAudits(tenant: string, options: ListAuditsOptions): Promise<Page<AuditRecord>> {
    assertLimit(options.limit, MAX_LIST_LIMIT);
    const cursor = options.cursor ?? null;
    if (cursor !== null) assertAuditCursor(cursor);
    // The cursor is the last id of the previous page: ids sort by creation, so "older than the
    // cursor" is one index range scan however deep the page.
    const rows = await guard("list audits", () => this.#sql.auditsOfTenant(tenant, cursor, options.limit + 1));
    const { items, more } = firstOf(rows, options.limit);
    return { items, nextCursor: more ? items[items.length - 1].id : null };
  }

  async listAuditsByState(states: readonly AuditState[]): Promise<AuditRecord[]> {
    assertAuditStates(states);
    return guard("list audits", () => this.#sql.auditsInStates(states));
  }

  async countAuditsByState(): Promise<Record<AuditState, number>> {
    const rows = await guard("count audits", () => this.#sql.countByState());
    const counts = Object.fromEntries(AUDIT_STATES.map((s) => [s, 0])) as Record<AuditState, number>;
    for (const r of rows) counts[r.state] = Number(r.n);
    return counts;
  }

  async listFinishedAuditsOlderThan(hours: number, limit = 100): Promise<AuditRecord[]> {
    assertHours(hours);
    assertLimit(limit, MAX_LIST_LIMIT);
    // Times are whole milliseconds, so "< ceil(before)" selects exactly what "< before" would.
    const before = Math.ceil(this.#now() - hours * 3_600_000);
    return guard("list finished audits", () => this.#sql.auditsFinishedBefore(before, limit));
  }

  async transition(id: string, from: readonly AuditState[], to: AuditState, patch: AuditPatch = {}): Promise<boolean> {
    assertTransition(from, to);
    if (from.length === 0) return false;
    const change = { id, from, to, now: this.#now(), entersRunning: to === "running", entersTerminal: TERMINAL_STATES.includes(to), patch };
    return guard("update an audit", () => this.#sql.changeState(change));
  }

  async setProgress(id: string, progress: AuditProgress): Promise<boolean> {
    return guard("update progress", () => this.#sql.setProgress(id, progress, this.#now()));
  }

  async deleteAudit(tenant: string, id: string): Promise<boolean> {
    // Results, events and input references go with the row (ON DELETE CASCADE).
    return guard("delete an audit", () => this.#sql.deleteAudit(tenant, id));
  }

  // --- per-point results ---------------------------------------------------------------------

  async appendResults(auditId: string, rows: readonly ResultRow[]): Promise<void> {
    for (const row of rows) assertResultRow(row);
    // Index order: two writers retrying the same shard lock rows in the same order (no deadlock).
    const batch = lastPerIndex(rows);
    if (!(await guard("store results", () => this.#sql.upsertResults(auditId, batch)))) throw deletedAudit(auditId);
  }

  async countResults(auditId: string, filter?: ResultFilter): Promise<number> {
    const query = resultQuery(filter);
    return guard("count results", () => this.#sql.countResults(auditId, query));
  }

  async maxCommittedIndex(auditId: string): Promise<number | null> {
    return guard("read results", () => this.#sql.maxCommittedIndex(auditId));
  }

  async committedIndices(auditId: string, range: IndexRange = {}): Promise<number[]> {
    return guard("read results", () => this.#sql.committedIndices(auditId, range.from ?? null, range.to ?? null));
  }

  async finalizeResults(auditId: string, updates: readonly ResultFinalization[]): Promise<void> {
    assertFinalizations(updates);
    const batch = lastPerIndex(updates);
    await guard("finalize results", () => this.#sql.finalizeResults(auditId, batch));
  }

  async readResults(auditId: string, options: ReadResultsOptions): Promise<Page<StoredResult>> {
    const page = resultsPage(options);
    const query = resultQuery(options);
    const limit = page.limit;
    if (page.order === "index") {
      // Keyset pagination on the primary key: page N costs the same as page 1.
      const rows = await guard("read results", () => this.#sql.resultsAfterIndex(auditId, query, page.after, limit + 1, page.offset));
      const { items, more } = firstOf(rows, limit);
      return { items: await this.#withLayers(auditId, items, options.layers), nextCursor: more ? indexCursor(items[items.length - 1].index) : null };
    }
    const rows = await guard("read results", () => this.#sql.resultsByScore(auditId, query, limit + 1, page.offset));
    const { items, more } = firstOf(rows, limit);
    return { items: await this.#withLayers(auditId, items, options.layers), nextCursor: more ? offsetCursor(page.offset + limit) : null };
  }

  /** The rows with their layer scores when asked for: one more query per page or chunk. */
  async #withLayers(auditId: string, rows: StoredResult[], wanted: boolean | undefined): Promise<StoredResult[]> {
    if (wanted !== true || rows.length === 0) return rows;
    const scores = await guard("read layer scores", () => this.#sql.layerScoresOf(auditId, rows.map((r) => r.index)));
    return attachLayerScores(rows, scores);
  }

  async *iterateResults(auditId: string, options: IterateResultsOptions = {}): AsyncIterable<StoredResult> {
    const query = resultQuery(options);
    const chunk = options.chunkSize ?? DEFAULT_CHUNK;
    assertLimit(chunk, MAX_RESULTS_LIMIT);
    let after = -1;
    for (;;) {
      // One short query per chunk: no transaction or connection held across the consumer's
      // awaits, so a slow download never blocks writers or WAL checkpoints.
      const rows = await guard("read results", () => this.#sql.resultsAfterIndex(auditId, query, after, chunk, 0));
      yield* await this.#withLayers(auditId, rows, options.layers);
      if (rows.length < chunk) return;
      after = rows[rows.length - 1].index;
    }
  }

  // --- LayerMem layers ----------------------------------------------------------------------

  async recordLayers(auditId: string, layers: readonly LayerDescription[]): Promise<void> {
    assertLayerDescriptions(layers);
    if (!(await guard("store layers", () => this.#sql.upsertLayers(auditId, layers)))) throw deletedAudit(auditId);
  }

  async auditLayers(auditId: string): Promise<LayerDescription[]> {
    return guard("read layers", () => this.#sql.layersOf(auditId));
  }

  // --- per-unit results (UnitMem audits; unit-result-types.ts) ------------------------------

  async appendUnitResults(auditId: string, rows: readonly UnitResult[]): Promise<void> {
    for (const row of rows) assertUnitResult(row);
    const batch = lastPerIndex(rows);
    if (!(await guard("store unit results", () => this.#sql.units.upsert(auditId, batch)))) throw deletedAudit(auditId);
  }

  async readUnitResults(auditId: string, options: ReadUnitResultsOptions): Promise<UnitResultPage> {
    assertLimit(options.limit, MAX_RESULTS_LIMIT);
    const order = options.order ?? "index";
    if (!UNIT_RESULT_ORDERS.includes(order)) throw new SslmemError("validation_failed", `order must be one of ${UNIT_RESULT_ORDERS.join(", ")}`);
    const layer = options.layer ?? null;
    const cursor = options.cursor ?? null;
    const limit = options.limit;
    if (order === "index") {
      const after = cursor !== null ? parseIndexCursor(cursor) : -1;
      const rows = await guard("read unit results", () => this.#sql.units.afterIndex(auditId, layer, after, limit + 1));
      const { items, more } = firstOf(rows, limit);
      return { items, nextCursor: more ? indexCursor(items[items.length - 1].index) : null };
    }
    const offset = cursor !== null ? parseOffsetCursor(cursor) : 0;
    const rows = await guard("read unit results", () => this.#sql.units.byUnitMem(auditId, layer, limit + 1, offset));
    const { items, more } = firstOf(rows, limit);
    return { items, nextCursor: more ? offsetCursor(offset + limit) : null };
  }

  async *iterateUnitResults(auditId: string, options: { layer?: string; chunkSize?: number } = {}): AsyncIterable<UnitResult> {
    const chunk = options.chunkSize ?? DEFAULT_CHUNK;
    assertLimit(chunk, MAX_RESULTS_LIMIT);
    for (let after = -1; ; ) {
      const rows = await guard("read unit results", () => this.#sql.units.afterIndex(auditId, options.layer ?? null, after, chunk));
      yield* rows;
      if (rows.length < chunk) return;
      after = rows[rows.length - 1].index;
    }
  }

  async countUnitResults(auditId: string): Promise<number> {
    return guard("count unit results", () => this.#sql.units.count(auditId));
  }

  // --- events --------------------------------------------------------------------------------

  async appendEvent(auditId: string, event: AuditEventInput): Promise<number> {
    assertEvent(event);
    const seq = await guard("store an event", () => this.#sql.appendEvent(auditId, event.type, event.data ?? {}, this.#now()));
    if (seq === null) throw deletedAudit(auditId);
    return seq;
  }

  async readEvents(auditId: string, afterSeq: number, limit = 1000): Promise<StoredEvent[]> {
    assertLimit(limit, MAX_RESULTS_LIMIT);
    return guard("read events", () => this.#sql.eventsAfter(auditId, Math.max(0, Math.floor(afterSeq) || 0), limit));
  }

  // --- blobs ---------------------------------------------------------------------------------

  async recordBlob(blob: BlobRecordInput): Promise<void> {
    assertBlobRecord(blob);
    await guard("record a blob", () => this.#sql.upsertBlob(blob, this.#now()));
  }

  async tenantUsage(tenant: string): Promise<TenantUsage> {
    assertTenant(tenant);
    const usage = await guard("read tenant usage", () => this.#sql.tenantUsage(tenant));
    return { blobBytes: Number(usage.blobBytes), audits: Number(usage.audits), layerSets: Number(usage.layerSets) };
  }

  async tenantHasBlob(tenant: string, digest: string): Promise<boolean> {
    return guard("read blob ownership", () => this.#sql.tenantHasBlob(tenant, digest));
  }

  async blobsReferencedOnlyBy(auditId: string, roles: readonly AuditInputRole[] = AUDIT_INPUT_ROLES): Promise<string[]> {
    assertInputRoles(roles);
    return guard("read blob references", () => this.#sql.blobsReferencedOnlyBy(auditId, roles));
  }

  async markInputsPurged(auditId: string, roles: readonly AuditInputRole[]): Promise<void> {
    assertInputRoles(roles);
    await guard("mark inputs purged", () => this.#sql.markInputsPurged(auditId, roles, this.#now()));
  }

  async forgetBlob(tenant: string, digest: string): Promise<ForgetBlobResult> {
    return guard("forget a blob", () => this.#sql.forgetBlob(tenant, digest));
  }

  // --- outbox and watches (outbox-types.ts, watch-types.ts) ----------------------------------

  async claimDeliveries(leaseMs: number, limit: number): Promise<Delivery[]> {
    assertLimit(limit, MAX_LIST_LIMIT);
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) throw new SslmemError("validation_failed", "leaseMs must be a positive integer");
    const now = this.#now();
    return guard("claim deliveries", () => this.#sql.deliveries.claimDue(now, now + leaseMs, limit));
  }

  async settleDelivery(id: string, leaseUntil: number, settlement: DeliverySettlement): Promise<boolean> {
    if (!Number.isSafeInteger(settlement.attempts) || settlement.attempts < 0) throw new SslmemError("validation_failed", "attempts must be a count");
    return guard("settle a delivery", () => this.#sql.deliveries.settle(id, leaseUntil, settlement, this.#now()));
  }

  async deliveriesOfAudit(auditId: string): Promise<Delivery[]> {
    return guard("read deliveries", () => this.#sql.deliveries.deliveriesOfAudit(auditId));
  }

  async createWatch(w: NewWatch): Promise<WatchRecord> {
    assertTenant(w.tenant);
    if (!WATCH_KINDS.includes(w.kind)) throw new SslmemError("validation_failed", `kind must be one of ${WATCH_KINDS.join(", ")}`);
    if (w.secret.length < 16) throw new SslmemError("validation_failed", "a watch secret must be at least 16 characters");
    return guard("create a watch", () => this.#sql.watches.insertWatch({ ...w, id: this.#newId("wch_"), now: this.#now() }));
  }

  async getWatch(tenant: string, id: string): Promise<WatchRecord | null> {
    return guard("read a watch", () => this.#sql.watches.watchById(id, tenant));
  }

  async getWatchInternal(id: string): Promise<WatchRecord | null> {
    return guard("read a watch", () => this.#sql.watches.watchById(id));
  }

  async listWatches(tenant: string): Promise<WatchRecord[]> {
    return guard("list watches", () => this.#sql.watches.watchesOfTenant(tenant));
  }

  async listWatchesOfKind(kind: WatchKind): Promise<WatchRecord[]> {
    return guard("list watches", () => this.#sql.watches.watchesOfKind(kind));
  }

  async deleteWatch(tenant: string, id: string): Promise<boolean> {
    return guard("delete a watch", () => this.#sql.watches.deleteWatch(tenant, id));
  }

  async claimWatchTrigger(watchId: string, key: string, leaseMs?: number): Promise<boolean> {
    assertDeliveryKey(key, "key");
    if (leaseMs !== undefined && (!Number.isSafeInteger(leaseMs) || leaseMs < 1)) throw new SslmemError("validation_failed", "leaseMs must be a positive integer");
    const now = this.#now();
    return guard("record a watch trigger", () => this.#sql.watches.insertTrigger(watchId, key, now, leaseMs === undefined ? null : now + leaseMs));
  }

  async releaseWatchTrigger(watchId: string, key: string): Promise<void> {
    return guard("release a watch trigger", () => this.#sql.watches.deleteTrigger(watchId, key));
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async healthCheck(): Promise<void> {
    const nonce = randomUUID();
    await guard("pass its health check", async () => {
      if ((await this.#sql.healthProbe(nonce, this.#now())) !== nonce) throw new Error("health probe read back a different value");
    });
  }

  async close(): Promise<void> {
    return this.#sql.close();
  }
}
