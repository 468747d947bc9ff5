/**
 * What one UnitMem audit (kind `unitmem`) does inside the service: the same run as `sslmem units`
 * (engine/units.ts) on the audit's encoder and candidates, then every unit's row into the store
 * and the `sslmem.unitmem/v1` report as the audit's outcome. It runs where SSLMem audits run (the
 * engine process, under the same deadline, memory ceiling and cancel), reached from
 * EngineExecutor.execute.
 *
 * Not resumable mid-way: the per-point means live in memory until the last batch, so a requeued
 * UnitMem audit runs again from the start; its rows are upserts, so a rerun rewrites them.
 */
import { readFile } from "node:fs/promises";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { UnitMemConfigSchema, type UnitMemConfig, type UnitMemReport } from "../core/unitmem-report.ts";
import type { PointSet } from "../data/point-set.ts";
import { openPointSet } from "../data/sources.ts";
import type { EngineLogger } from "../engine/providers.ts";
import { isTfjsModel } from "../engine/tfjs/model-files.ts";
import { runUnitMem, unitMemNeedsOnnx } from "../engine/units.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditRecord, JsonObject } from "../store/types.ts";
import type { UnitResult, UnitResultStore } from "../store/unit-result-types.ts";
import type { EngineSettings } from "./engine-settings.ts";
import type { AuditExecution, ExecutionContext } from "./types.ts";

/** Unit rows per store call (one IPC message from the engine process each). */
const ROWS_PER_WRITE = 2000;

export interface UnitMemExecutionDeps {
  store: Pick<UnitResultStore, "appendUnitResults">;
  blobs: BlobReader;
  logger: EngineLogger;
  settings: EngineSettings;
}

export function parseStoredUnitMemConfig(audit: AuditRecord): UnitMemConfig {
  const parsed = UnitMemConfigSchema.safeParse(audit.config);
  if (!parsed.success) throw new SslmemError("invalid_config", "the stored UnitMem config is not valid for this version of sslmem");
  return parsed.data;
}

async function openCandidates(audit: AuditRecord, deps: UnitMemExecutionDeps): Promise<PointSet> {
  const digest = audit.inputs.candidates;
  if (!(await deps.blobs.has(digest))) {
    throw new SslmemError("blob_not_found", "the candidates upload is no longer stored (purged by retention or deleted); upload it again");
  }
  try {
    return await openPointSet(deps.blobs.pathFor(digest), deps.settings.ingest, { tmpDir: deps.settings.tmpDir });
  } catch (e) {
    throw isSslmemError(e) ? new SslmemError(e.code, `candidates: ${e.message}`, e.details, { cause: e.cause }) : e;
  }
}

/** Every unit's row: layers in report order, units in order; `index` runs over all of them. */
export function unitRows(layers: readonly { name: string; scores: readonly { unit: number; unitMem: number; point: number; muMax: number; muOthers: number }[] }[], ids: readonly string[]): UnitResult[] {
  const rows: UnitResult[] = [];
  for (const layer of layers) {
    for (const s of layer.scores) {
      rows.push({ index: rows.length, layer: layer.name, unit: s.unit, unitMem: s.unitMem, point: ids[s.point], muMax: s.muMax, muOthers: s.muOthers });
    }
  }
  return rows;
}

/** The audit's summary: what GET /v1/audits/{id} and the completion callback show. */
export function unitMemSummary(report: UnitMemReport): JsonObject {
  const top = report.topUnits[0];
  return {
    points: report.run.points,
    units: report.layers.reduce((n, l) => n + l.units, 0),
    baseline: report.run.config.baseline,
    layers: report.layers.map((l) => ({ name: l.name, units: l.units, meanUnitMem: l.meanUnitMem, medianUnitMem: l.medianUnitMem, maxUnitMem: l.maxUnitMem, signedUnits: l.signedUnits })),
    ...(top ? { topUnit: { layer: top.layer, unit: top.unit, unitMem: top.unitMem, point: top.point } } : {}),
  };
}

export async function executeUnitMem(audit: AuditRecord, ctx: ExecutionContext, deps: UnitMemExecutionDeps): Promise<AuditExecution> {
  const config = parseStoredUnitMemConfig(audit);
  await ctx.progress({ stage: "loading", done: 0, total: 0 });
  const digest = audit.inputs.target;
  if (!(await deps.blobs.has(digest))) throw new SslmemError("blob_not_found", "the encoder upload is no longer stored; upload it again");
  if (await isTfjsModel(deps.blobs.pathFor(digest))) throw unitMemNeedsOnnx();
  const bytes = new Uint8Array(await readFile(deps.blobs.pathFor(digest)));
  const candidates = await openCandidates(audit, deps);
  try {
    await ctx.event("engine", { kind: "unitmem", candidates: candidates.size, skipped: candidates.skipped.length });
    let measured = 0;
    const { report, layers } = await runUnitMem(
      bytes,
      candidates,
      config,
      {
        providers: deps.settings.providers,
        ...(deps.settings.threads !== undefined ? { threads: deps.settings.threads } : {}),
        logger: deps.logger,
        signal: ctx.signal,
        onProgress: async (done, total) => {
          if (done > measured) ctx.scored({ points: done - measured, views: (done - measured) * config.views });
          measured = done;
          await ctx.progress({ stage: "measuring", done, total });
        },
      },
      { id: audit.id, created: new Date(audit.createdAt) },
    );
    ctx.signal.throwIfAborted();
    await ctx.progress({ stage: "finalizing", done: candidates.size, total: candidates.size });
    const rows = unitRows(layers, candidates.ids);
    for (let i = 0; i < rows.length; i += ROWS_PER_WRITE) await deps.store.appendUnitResults(audit.id, rows.slice(i, i + ROWS_PER_WRITE));
    return { summary: unitMemSummary(report), report };
  } finally {
    await candidates.close();
  }
}
