/**
 * The engine's AuditExecutor: what one audit does inside the service. The runner owns the state
 * machine; this measures points batch by batch (results appended idempotently, so a resumed audit
 * skips what was committed), then finalizes normalization, calibration and flags over all rows.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { AuditConfigSchema, type AuditConfig } from "../core/audit-config.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import type { IngestLimits } from "../data/limits.ts";
import type { PointSet } from "../data/point-set.ts";
import { openPointSet } from "../data/sources.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../engine/audit.ts";
import { measurePoints } from "../engine/measure.ts";
import type { ProviderPreference } from "../engine/providers.ts";
import { SessionCache } from "../engine/session.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { AuditRecord, JsonObject, Store } from "../store/types.ts";
import type { AuditExecution, AuditExecutor, ExecutionContext } from "./types.ts";

export interface EngineExecutorDeps {
  store: Store;
  blobs: BlobStore;
  logger: Logger;
  providers: ProviderPreference;
  threads?: number;
  ingest: Partial<IngestLimits>;
  /** Where .tar.gz uploads are decompressed while an audit runs. */
  tmpDir: string;
}

/** Error messages of the readers speak of "the candidate set"; say which input it was. */
function inputError(e: unknown, role: "candidates" | "controls"): unknown {
  if (isSslmemError(e) && role === "controls") return new SslmemError(e.code, `controls: ${e.message}`, e.details);
  return e;
}

async function openInput(blobs: BlobStore, digest: string, role: "candidates" | "controls", deps: EngineExecutorDeps): Promise<PointSet> {
  if (!(await blobs.has(digest))) {
    throw new SslmemError("blob_not_found", `the ${role} upload is no longer stored (purged by retention or deleted); upload it again`);
  }
  try {
    return await openPointSet(blobs.pathFor(digest), deps.ingest, { tmpDir: deps.tmpDir });
  } catch (e) {
    throw inputError(e, role);
  }
}

async function readModel(blobs: BlobStore, digest: string, role: "target" | "reference"): Promise<Uint8Array> {
  if (!(await blobs.has(digest))) throw new SslmemError("blob_not_found", `the ${role} model upload is no longer stored; upload it again`);
  return new Uint8Array(await readFile(blobs.pathFor(digest)));
}

export class EngineExecutor implements AuditExecutor {
  /** Sessions are kept across audits: CI re-audits against the same reference encoder. */
  private readonly cache = new SessionCache();

  constructor(private readonly deps: EngineExecutorDeps) {}

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    const { store, blobs, logger } = this.deps;
    const parsed = AuditConfigSchema.safeParse(audit.config);
    if (!parsed.success) throw new SslmemError("invalid_config", "the stored audit config is not valid for this version of sslmem");
    const config: AuditConfig = parsed.data;

    await ctx.progress({ stage: "loading", done: 0, total: 0 });
    const target = await readModel(blobs, audit.inputs.target, "target");
    const reference = await readModel(blobs, audit.inputs.reference, "reference");
    const candidates = await openInput(blobs, audit.inputs.candidates, "candidates", this.deps);
    let controls: PointSet | undefined;
    try {
      controls = audit.inputs.controls ? await openInput(blobs, audit.inputs.controls, "controls", this.deps) : undefined;
      const prepared = await prepareAudit({ target, reference, candidates, controls }, config, {
        providers: this.deps.providers,
        threads: this.deps.threads,
        logger,
        cache: this.cache,
      });
      try {
        const catalog = prepared.context.catalog;
        await ctx.event("engine", {
          provider: prepared.providers.provider,
          candidates: candidates.size,
          controls: controls?.size ?? 0,
          skipped: candidates.skipped.length + (controls?.skipped.length ?? 0),
        });
        const committed = new Set(await store.committedIndices(audit.id));
        const total = catalog.size;
        const viewsPerPoint = config.pairing === "views" ? 2 * config.views : config.views + 1;
        await measurePoints(prepared.context, {
          skip: (i) => committed.has(i),
          signal: ctx.signal,
          onBatch: async (rows) => {
            await store.appendResults(audit.id, rows);
            for (const r of rows) committed.add(r.index);
            ctx.scored({ points: rows.length, views: rows.length * viewsPerPoint });
            await ctx.progress({ stage: "measuring", done: committed.size, total });
          },
        });
        ctx.signal.throwIfAborted();

        await ctx.progress({ stage: "finalizing", done: total, total });
        const measurements: (PointMeasurement & { index: number })[] = [];
        for await (const row of store.iterateResults(audit.id)) measurements.push(row);
        if (measurements.length !== total) {
          throw new SslmemError("store_failure", `expected ${total} measured points, found ${measurements.length}`);
        }
        measurements.sort((a, b) => a.index - b.index);
        const info = describeAudit(prepared, { id: audit.id, created: new Date(audit.createdAt) }, config);
        const { report, flags } = finalizeAudit(info, measurements, config);
        // flagPoints returns candidates then controls, each in input order: index order here.
        const candidateRows = measurements.filter((m) => m.role === "candidate");
        const controlRows = measurements.filter((m) => m.role === "control");
        const ordered = [...candidateRows, ...controlRows];
        await store.finalizeResults(
          audit.id,
          flags.results.map((r, i) => ({
            index: ordered[i].index,
            scoreNormalized: r.scoreNormalized,
            ...(r.pValue !== undefined ? { pValue: r.pValue } : {}),
            flagged: r.flagged,
          })),
        );
        const { points: _points, ...withoutPoints } = report;
        return { summary: report.summary as unknown as JsonObject, report: withoutPoints as unknown as JsonObject };
      } finally {
        await prepared.release();
      }
    } finally {
      await candidates.close();
      await controls?.close();
    }
  }
}

export function engineExecutorFactory(deps: {
  config: { providers: ProviderPreference | string[] | "auto"; threads?: number; dataDir: string; ingest: Partial<IngestLimits> };
  store: Store;
  blobs: BlobStore;
  logger: Logger;
}): EngineExecutor {
  return new EngineExecutor({
    store: deps.store,
    blobs: deps.blobs,
    logger: deps.logger,
    providers: deps.config.providers as ProviderPreference,
    threads: deps.config.threads,
    ingest: deps.config.ingest,
    tmpDir: join(deps.config.dataDir, "tmp"),
  });
}
