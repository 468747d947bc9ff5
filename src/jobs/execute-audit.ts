/**
 * The engine's AuditExecutor: what one audit does inside the service. The runner owns the state
 * machine; this measures points batch by batch (results appended idempotently, so a resumed audit
 * skips what was committed), then finalizes normalization, calibration and flags over all rows.
 *
 * The same work is available in the steps the scaled mode distributes: `planAudit` (open the
 * inputs, count the points), `measureShard` (one range of points, on any worker) and `mergeAudit`
 * (the whole-set statistics, once every shard is in the store). Because each view's randomness
 * is keyed by (seed, point id, view), the steps give the same scores as `execute`.
 */
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { ReportAuditInfo } from "../core/report.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import { resolveIngestLimits } from "../data/limits.ts";
import { describeAudit, describeLayers, finalizeAudit } from "../engine/audit.ts";
import type { LayerDescription } from "../core/layermem.ts";
import { storableReport } from "../report/stored-report.ts";
import { measureEncoderHealth } from "../engine/diagnostics.ts";
import type { EncoderHealthSample } from "../core/health.ts";
import { readAuditSources } from "../sources/audit-inputs.ts";
import { measurePoints } from "../engine/measure.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { EngineLogger } from "../engine/providers.ts";
import { SessionCache } from "../engine/session.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditRecord, JsonObject, MeasurementStore } from "../store/types.ts";
import { WorkspaceCache, openAuditWorkspace, parseStoredConfig, type AuditWorkspace, type WorkspaceLease } from "./audit-workspace.ts";
import { engineSettings, type EngineSettings } from "./engine-settings.ts";
import { measureMixedAudit, refuseTfjsInScaledMode, tfjsEncoders } from "./execute-mixed-audit.ts";
import { executeUnitMem } from "./execute-unitmem.ts";
import type { AuditExecution, AuditExecutor, EngineStore, ExecutionContext, ExecutorDeps } from "./types.ts";

/** How often a shard recounts the audit's rows for progress (a count reads every row). */
const COUNT_REFRESH_MS = 1_000;

export interface EngineExecutorDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: EngineLogger;
  settings: EngineSettings;
  /**
   * Keep an audit's inputs and graphs open between calls (a worker running many shards of one
   * audit). Without it every call opens and closes its own workspace.
   */
  keepWorkspaces?: { idleMs?: number; maxIdle?: number };
}

/** A range of global point indices: [from, to). */
export interface PointRange {
  from: number;
  to: number;
}

export interface AuditPlan {
  /** Points of the audit (candidates then controls). */
  total: number;
  candidates: number;
  controls: number;
  skipped: number;
  provider: string;
}

/**
 * Reads every measured row of an audit (with its layer scores when it measures layers), computes
 * normalization, calibration, flags and the LayerMem summaries over the whole set, writes the
 * per-point results back and returns the summary and report. Separate from the engine so its cost
 * (the merge of a sharded audit) can be measured on its own.
 */
export async function finalizeFromStore(
  store: Pick<MeasurementStore, "iterateResults" | "finalizeResults">,
  auditId: string,
  info: ReportAuditInfo,
  config: AuditConfig,
  total: number,
  extras: { health?: EncoderHealthSample; layers?: readonly LayerDescription[] } = {},
): Promise<AuditExecution> {
  const measurements: (PointMeasurement & { index: number })[] = [];
  for await (const row of store.iterateResults(auditId, { layers: extras.layers !== undefined })) measurements.push(row);
  if (measurements.length !== total) {
    throw new SslmemError("store_failure", `expected ${total} measured points, found ${measurements.length}`);
  }
  measurements.sort((a, b) => a.index - b.index);
  const { report, flags } = finalizeAudit(info, measurements, config, extras);
  // flagPoints returns candidates then controls, each in input order. Candidates hold indices
  // [0, C) and controls [C, N), so that is index order: result i is measurements[i].
  await store.finalizeResults(
    auditId,
    flags.results.map((r, i) => ({
      index: measurements[i].index,
      scoreNormalized: r.scoreNormalized,
      ...(r.pValue !== undefined ? { pValue: r.pValue } : {}),
      flagged: r.flagged,
    })),
  );
  return { summary: report.summary, report: storableReport(report) };
}

export class EngineExecutor implements AuditExecutor {
  /** Sessions are kept across audits (CI re-audits against the same reference encoder), within the cache's limits. */
  private readonly cache: SessionCache;
  private readonly workspaces: WorkspaceCache | undefined;

  constructor(private readonly deps: EngineExecutorDeps) {
    this.cache = new SessionCache(deps.settings.sessionCache);
    const open = (audit: AuditRecord) => this.#open(audit);
    this.workspaces = deps.keepWorkspaces ? new WorkspaceCache(open, deps.keepWorkspaces) : undefined;
  }

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    const { store } = this.deps;
    if (audit.kind === "unitmem") return executeUnitMem(audit, ctx, this.deps);
    parseStoredConfig(audit); // refuse a stale config before announcing any work
    await ctx.progress({ stage: "loading", done: 0, total: 0 });
    // A TF.js encoder blob (a .tar / .zip of model.json + shards): the chained TF.js measurement.
    const tfjs = await tfjsEncoders(audit, this.deps.blobs);
    if (tfjs) {
      const { info, config, total } = await measureMixedAudit(audit, ctx, this.deps, tfjs, (rows) => store.appendResults(audit.id, rows));
      return finalizeFromStore(store, audit.id, info, config, total);
    }
    try {
      return await this.#withWorkspace(audit, async (ws) => {
        await ctx.event("engine", engineEventData(ws));
        const committed = new Set(await store.committedIndices(audit.id));
        await this.#measure(ws, audit, { from: 0, to: ws.total }, ctx, committed, () => committed.size);
        ctx.signal.throwIfAborted();
        await ctx.progress({ stage: "finalizing", done: ws.total, total: ws.total });
        return this.#finalize(ws, audit);
      });
    } finally {
      await this.cache.trim(); // an audit's models stay only within the cache's limits
    }
  }

  /** Opens the inputs and the engine (refusing bad inputs once, before any shard) and counts the points. */
  async planAudit(audit: AuditRecord): Promise<AuditPlan> {
    await refuseTfjsInScaledMode(audit, this.deps.blobs);
    return this.#withWorkspace(audit, async (ws) => ({
      total: ws.total,
      candidates: ws.candidates.size,
      controls: ws.controls?.size ?? 0,
      skipped: ws.candidates.skipped.length + (ws.controls?.skipped.length ?? 0),
      provider: ws.prepared.providers.provider,
    }));
  }

  /**
   * Measures the points of [from, to) that are not committed yet and appends their rows (an
   * upsert: a shard retried after its worker died rewrites the same values). Progress reports
   * the audit's committed rows across all shards. Returns the points this call measured.
   */
  async measureShard(audit: AuditRecord, range: PointRange, ctx: ExecutionContext): Promise<{ measured: number }> {
    const { store } = this.deps;
    return this.#withWorkspace(audit, async (ws) => {
      const committed = new Set(await store.committedIndices(audit.id, range));
      const before = committed.size;
      // The audit's rows across all shards: a count scans them all, so it is refreshed at most
      // once a second and this shard's own rows are added in between; the shard's last progress
      // is a fresh count (the last shard to finish reports the whole audit).
      let counted = await store.countResults(audit.id);
      let countedAt = Date.now();
      let ownAtCount = committed.size;
      const done = async () => {
        if (Date.now() - countedAt >= COUNT_REFRESH_MS) {
          counted = await store.countResults(audit.id);
          countedAt = Date.now();
          ownAtCount = committed.size;
        }
        return counted + committed.size - ownAtCount;
      };
      await this.#measure(ws, audit, range, ctx, committed, done);
      if (committed.size > before) {
        await ctx.progress({ stage: "measuring", done: await store.countResults(audit.id), total: ws.total });
      }
      return { measured: committed.size - before };
    });
  }

  /** Normalization, calibration and flags over all rows of the audit, once every shard is stored. */
  mergeAudit(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    return this.#withWorkspace(audit, async (ws) => {
      await ctx.progress({ stage: "finalizing", done: ws.total, total: ws.total });
      return this.#finalize(ws, audit);
    });
  }

  /** Closes an ended audit's cached workspace (no-op without keepWorkspaces or while in use). */
  async forget(auditId: string): Promise<void> {
    await this.workspaces?.forget(auditId);
  }

  /** Releases cached workspaces and encoder sessions (process shutdown). */
  async close(): Promise<void> {
    await this.workspaces?.close();
    await this.cache.clear();
  }

  async #measure(
    ws: AuditWorkspace,
    audit: AuditRecord,
    range: PointRange,
    ctx: ExecutionContext,
    committed: Set<number>,
    done: () => number | Promise<number>,
  ): Promise<void> {
    const { store } = this.deps;
    const views = viewsPerPoint(ws.config.views, ws.config.pairing);
    // The layers go to the store before any of their rows: the results endpoint names a row's
    // layer scores by them while the audit runs. Every shard records the same (an upsert).
    const layers = describeLayers(ws.prepared);
    if (layers) await store.recordLayers(audit.id, layers);
    await measurePoints(ws.prepared.context, {
      from: range.from,
      to: range.to,
      skip: (i) => committed.has(i),
      signal: ctx.signal,
      maxBatchPixels: resolveIngestLimits(this.deps.settings.ingest).maxBatchPixels,
      onBatch: async (rows) => {
        await store.appendResults(audit.id, rows);
        for (const r of rows) committed.add(r.index);
        ctx.scored({ points: rows.length, views: rows.length * views });
        await ctx.progress({ stage: "measuring", done: await done(), total: ws.total });
      },
    });
  }

  async #finalize(ws: AuditWorkspace, audit: AuditRecord): Promise<AuditExecution> {
    const info = describeAudit(ws.prepared, { id: audit.id, created: new Date(audit.createdAt) }, ws.config);
    const sources = await readAuditSources(this.deps.store, audit.id);
    // Encoder health (issue 12): a 32-point sample through both encoders, reported with the flags.
    const health = await measureEncoderHealth(ws.prepared);
    const layers = describeLayers(ws.prepared);
    return finalizeFromStore(this.deps.store, audit.id, sources ? { ...info, sources } : info, ws.config, ws.total, { health, ...(layers ? { layers } : {}) });
  }

  #open(audit: AuditRecord): Promise<AuditWorkspace> {
    return openAuditWorkspace(audit, { ...this.deps.settings, blobs: this.deps.blobs, logger: this.deps.logger, cache: this.cache });
  }

  /** Runs `use` with the audit's workspace leased (cached or opened for the call), released after. */
  async #withWorkspace<T>(audit: AuditRecord, use: (ws: AuditWorkspace) => Promise<T>): Promise<T> {
    const lease: WorkspaceLease = this.workspaces ? await this.workspaces.lease(audit) : await this.#openLease(audit);
    try {
      return await use(lease.workspace);
    } finally {
      await lease.release();
    }
  }

  async #openLease(audit: AuditRecord): Promise<WorkspaceLease> {
    const workspace = await this.#open(audit);
    return { workspace, release: () => workspace.close() };
  }
}

function engineEventData(ws: AuditWorkspace): JsonObject {
  return {
    provider: ws.prepared.providers.provider,
    candidates: ws.candidates.size,
    controls: ws.controls?.size ?? 0,
    skipped: ws.candidates.skipped.length + (ws.controls?.skipped.length ?? 0),
  };
}

/** The executor of the embedded mode and of `sslmem worker`, its settings built from Config. */
export function engineExecutorFactory(deps: ExecutorDeps & { keepWorkspaces?: EngineExecutorDeps["keepWorkspaces"] }): EngineExecutor {
  return new EngineExecutor({
    store: deps.store,
    blobs: deps.blobs,
    logger: deps.logger,
    settings: engineSettings(deps.config),
    ...(deps.keepWorkspaces ? { keepWorkspaces: deps.keepWorkspaces } : {}),
  });
}
