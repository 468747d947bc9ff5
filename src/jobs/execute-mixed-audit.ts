/**
 * A service audit whose target or reference encoder blob is a TF.js model (a .tar or .zip holding
 * model.json and its shards; the format is read from the blob's content, never a name): the
 * counterpart of EngineExecutor's measurement for the chained TF.js / mixed measurement
 * (engine/tfjs/mixed-audit.ts). Rows are appended batch by batch, so a resumed audit skips what
 * was committed; the executor then finalizes the stored rows (normalization, calibration, flags)
 * as for any audit.
 *
 * The scaled mode (shards on `sslmem worker`s) runs ONNX encoders only: a TF.js audit there is
 * refused when it is planned (see refuseTfjsInScaledMode).
 */
import { readFile } from "node:fs/promises";
import { SslmemError } from "../core/errors.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { PointSet } from "../data/point-set.ts";
import type { EngineLogger } from "../engine/providers.ts";
import type { EncoderSource } from "../engine/tfjs/mixed-audit.ts";
import type { IndexedRow } from "../engine/tfjs/mixed-measure.ts";
import { isTfjsModel } from "../engine/tfjs/model-files.ts";
import { readAuditSources } from "../sources/audit-inputs.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditRecord } from "../store/types.ts";
import { openInput, parseStoredConfig } from "./audit-workspace.ts";
import type { EngineSettings } from "./engine-settings.ts";
import type { AuditConfig } from "../core/audit-config.ts";
import type { ReportAuditInfo } from "../core/report.ts";
import type { EngineStore, ExecutionContext } from "./types.ts";

export interface MixedExecutorDeps {
  store: EngineStore;
  blobs: BlobReader;
  logger: EngineLogger;
  settings: EngineSettings;
}

/** Which of the audit's encoder blobs are TF.js models (by content); null when both are ONNX. */
export async function tfjsEncoders(audit: AuditRecord, blobs: BlobReader): Promise<{ target: boolean; reference: boolean } | null> {
  const check = async (digest: string | undefined) => digest !== undefined && (await blobs.has(digest)) && (await isTfjsModel(blobs.pathFor(digest)));
  const sides = { target: await check(audit.inputs.target), reference: await check(audit.inputs.reference) };
  return sides.target || sides.reference ? sides : null;
}

export async function refuseTfjsInScaledMode(audit: AuditRecord, blobs: BlobReader): Promise<void> {
  if (await tfjsEncoders(audit, blobs)) {
    throw new SslmemError("model_unsupported", "TF.js encoders are audited by the embedded runner; the scaled mode (sslmem worker) runs ONNX encoders only — export the encoders to ONNX or submit to a service without workers");
  }
}

async function source(blobs: BlobReader, digest: string, role: "target" | "reference", tfjs: boolean): Promise<EncoderSource> {
  if (!(await blobs.has(digest))) throw new SslmemError("blob_not_found", `the ${role} model upload is no longer stored; upload it again`);
  return tfjs ? { format: "tfjs", path: blobs.pathFor(digest) } : { format: "onnx", bytes: new Uint8Array(await readFile(blobs.pathFor(digest))) };
}

/** Measures every point not yet committed; returns what the executor finalizes the stored rows with. */
export async function measureMixedAudit(
  audit: AuditRecord,
  ctx: ExecutionContext,
  deps: MixedExecutorDeps,
  tfjs: { target: boolean; reference: boolean },
  /** Stores a batch's rows (the executor's: it is the one writer of results). */
  append: (rows: IndexedRow[]) => Promise<void>,
): Promise<{ info: ReportAuditInfo; config: AuditConfig; total: number }> {
  const { store, blobs, settings } = deps;
  const config = parseStoredConfig(audit);
  if (audit.inputs.reference === undefined) throw new SslmemError("invalid_config", "an SSLMem audit needs a reference encoder");
  const { prepareMixedAudit } = await import("../engine/tfjs/mixed-audit.ts");
  const sources = { target: await source(blobs, audit.inputs.target, "target", tfjs.target), reference: await source(blobs, audit.inputs.reference, "reference", tfjs.reference) };
  const candidates = await openInput(audit.inputs.candidates, "candidates", { ...settings, blobs });
  let controls: PointSet | undefined;
  try {
    controls = audit.inputs.controls ? await openInput(audit.inputs.controls, "controls", { ...settings, blobs }) : undefined;
    const prepared = await prepareMixedAudit(sources, { candidates, ...(controls ? { controls } : {}) }, config, { providers: settings.providers, threads: settings.threads, logger: deps.logger });
    try {
      const total = candidates.size + (controls?.size ?? 0);
      await ctx.event("engine", { provider: prepared.provider, candidates: candidates.size, controls: controls?.size ?? 0, skipped: candidates.skipped.length + (controls?.skipped.length ?? 0) });
      const committed = new Set(await store.committedIndices(audit.id));
      const views = viewsPerPoint(config.views, config.pairing);
      const hooks = {
        skip: (i: number) => committed.has(i),
        signal: ctx.signal,
        onBatch: async (rows: IndexedRow[]) => {
          await append(rows);
          for (const r of rows) committed.add(r.index);
          ctx.scored({ points: rows.length, views: rows.length * views });
          await ctx.progress({ stage: "measuring", done: committed.size, total });
        },
      };
      await prepared.measure(candidates, "candidate", hooks);
      if (controls) await prepared.measure(controls, "control", { ...hooks, offset: candidates.size });
      ctx.signal.throwIfAborted();
      await ctx.progress({ stage: "finalizing", done: total, total });
      const info = prepared.describe({ id: audit.id, created: new Date(audit.createdAt) });
      const stored = await readAuditSources(store, audit.id);
      return { info: stored ? { ...info, sources: stored } : info, config, total };
    } finally {
      await prepared.release();
    }
  } finally {
    await candidates.close();
    await controls?.close();
  }
}
