/**
 * `sslmem audit`: run an audit locally (or on a server with --server), write the requested
 * outputs, and apply the gate. Exit codes: src/cli/errors.ts.
 */
import { randomUUID } from "node:crypto";
import type { ReportV1 } from "../core/report.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { SkippedEntry } from "../data/point-set.ts";
import { describeAudit, describeLayers, finalizeAudit, type PreparedAudit } from "../engine/audit.ts";
import { ProviderPreferenceSchema } from "../engine/providers.ts";
import { measurePoints, type IndexedMeasurement } from "../engine/measure.ts";
import { measureEncoderHealth } from "../engine/diagnostics.ts";
import { alignmentWarnings, encoderWarnings } from "../core/health.ts";
import { formatCount } from "../report/numbers.ts";
import { AUDIT_HELP, parseAuditCommand, type AuditCommand, type ClientEnv } from "./audit-args.ts";
import { openPoints, prepareLocalAudit, readModel, resolveInputs, stderrLogger } from "./local-inputs.ts";
import { Checkpoint, auditKey, checkpointPath } from "./checkpoint.ts";
import { EmbeddingsFile } from "./embeddings-file.ts";
import { EXIT, UsageError } from "./errors.ts";
import { InvalidPointError, recoveringSet } from "./recovering-set.ts";
import { applyGate } from "./gate.ts";
import { onInterrupt } from "./interrupt.ts";
import { needsThumbnails, writeOutputs } from "./outputs.ts";
import { createProgress } from "./progress.ts";
import { thumbnailsFromPath, thumbnailsFromSet } from "./thumbnails.ts";

/** The upfront plan: points by role, views, encoder passes, provider — before the long part. */
export function planLine(prepared: PreparedAudit): string {
  const { config, catalog } = prepared.context;
  const perPoint = viewsPerPoint(config.views, config.pairing);
  const skipped = catalog.candidates.skipped.length + (catalog.controls?.skipped.length ?? 0);
  const points = catalog.size;
  const views = config.pairing === "views" ? `${config.views} view pairs (${perPoint} views)` : `${config.views} views + the original`;
  return (
    `sslmem: plan: ${formatCount(catalog.candidates.size)} candidates + ${formatCount(catalog.controls?.size ?? 0)} controls` +
    `${skipped > 0 ? ` (${formatCount(skipped)} files skipped)` : ""}, ${views} per point, ` +
    `${formatCount(points * perPoint * 2)} encoder passes (target and reference) on ${prepared.providers.provider}, batches of ${config.batchSize}`
  );
}

export interface LocalAuditResult {
  report: ReportV1;
  thumbnails?: Map<string, string>;
  /** The finished audit's checkpoint: removed once the outputs are written. */
  checkpoint?: Checkpoint;
}

/**
 * Measures every point not yet in the checkpoint. A point that cannot be decoded is left out and
 * named (`--on-invalid skip`): the batch it was in is measured again without it.
 */
async function measureAll(
  prepared: PreparedAudit,
  cmd: AuditCommand,
  measured: Map<number, IndexedMeasurement>,
  outputs: { checkpoint?: Checkpoint; embeddings?: EmbeddingsFile },
  invalid: { candidates: SkippedEntry[]; controls: SkippedEntry[] },
  signal?: AbortSignal,
): Promise<void> {
  const { checkpoint, embeddings } = outputs;
  const progress = createProgress({ quiet: cmd.quiet });
  const { catalog } = prepared.context;
  const excluded = new Set<number>();
  try {
    for (;;) {
      const base = measured.size;
      const total = catalog.size - excluded.size;
      try {
        await measurePoints(prepared.context, {
          signal,
          skip: (i) => measured.has(i) || excluded.has(i),
          onBatch: async (rows) => {
            for (const r of rows) measured.set(r.index, r);
            await checkpoint?.append(rows);
          },
          ...(embeddings ? { onRepresentations: (rows, representations) => embeddings.write(rows, representations) } : {}),
          onProgress: (done) => progress.update("scoring", base + done, total),
        });
        return;
      } catch (e) {
        if (!(e instanceof InvalidPointError)) throw e;
        if (cmd.onInvalid === "fail") {
          const flag = e.role === "candidate" ? "candidates" : "controls";
          const original = isSslmemError(e.original) ? e.original : undefined;
          throw new SslmemError(original?.code ?? "image_invalid", `--${flag} '${e.role === "candidate" ? cmd.candidates : cmd.controls}': ${e.reason}`, original?.details);
        }
        const index = e.role === "candidate" ? e.local : catalog.candidateCount + e.local;
        if (excluded.has(index)) throw e.original; // cannot happen: a left-out point is never loaded again
        excluded.add(index);
        (e.role === "candidate" ? invalid.candidates : invalid.controls).push({ id: e.id, reason: e.reason });
        if (!cmd.quiet) process.stderr.write(`warning: left out ${e.role} ${JSON.stringify(e.id)}: ${e.reason} (--on-invalid skip; it is named in the report)\n`);
      }
    }
  } finally {
    progress.done();
  }
}

/** Either encoder a TF.js model (a directory with model.json, or a .tar / .zip of one): each side in its own format. */
async function runTfjsAudit(cmd: AuditCommand, tfjs: { target: boolean; reference: boolean }): Promise<ReportV1> {
  const { runMixedAudit } = await import("../engine/tfjs/mixed-audit.ts");
  const source = async (role: "target" | "reference") =>
    tfjs[role] ? { format: "tfjs" as const, path: cmd[role] } : { format: "onnx" as const, bytes: await readModel(cmd[role], role) };
  const progress = createProgress({ quiet: cmd.quiet });
  const candidates = await openPoints(cmd.candidates, "candidates");
  const controls = cmd.controls ? await openPoints(cmd.controls, "controls") : undefined;
  try {
    return await runMixedAudit(
      { target: await source("target"), reference: await source("reference") },
      { candidates, ...(controls ? { controls } : {}) },
      cmd.config,
      { providers: ProviderPreferenceSchema.parse(cmd.providers?.length ? cmd.providers : "auto"), threads: cmd.threads, logger: stderrLogger(true), onProgress: (done, total) => progress.update("scoring", done, total) },
      { id: `local-${randomUUID()}`, created: new Date() },
    );
  } finally {
    progress.done();
    await candidates.close();
    await controls?.close();
  }
}

/** The --embeddings folder of a prepared audit: its points in report order, both encoders' width. */
function createEmbeddings(dir: string, prepared: PreparedAudit, cmd: AuditCommand): Promise<EmbeddingsFile> {
  const { target, reference } = prepared.encoders;
  return EmbeddingsFile.create(dir, {
    points: prepared.context.catalog,
    dim: target.dim,
    config: cmd.config,
    digests: { target: target.info.digest, reference: reference.info.digest },
  });
}

export interface LocalAuditOptions {
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
}

export async function runLocalAudit(cmd: AuditCommand, opts: LocalAuditOptions = {}): Promise<LocalAuditResult> {
  const { signal } = opts;
  const { isTfjsModel } = await import("../engine/tfjs/model-files.ts");
  const tfjs = { target: await isTfjsModel(cmd.target), reference: await isTfjsModel(cmd.reference) };
  if (tfjs.target || tfjs.reference) {
    if (cmd.embeddings !== undefined) throw new UsageError("--embeddings needs both encoders in ONNX: the measurement of a TF.js encoder does not return representations");
    return { report: await runTfjsAudit(cmd, tfjs) };
  }
  const { paths, sources } = await resolveInputs(cmd, opts.env ?? process.env);
  const [target, reference] = [await readModel(paths.target!, "target"), await readModel(paths.reference!, "reference")];
  const candidates = recoveringSet(await openPoints(paths.candidates!, "candidates"), "candidate");
  const controls = paths.controls ? recoveringSet(await openPoints(paths.controls, "controls"), "control") : undefined;
  try {
    const prepared = await prepareLocalAudit({ target, reference, candidates, controls }, cmd);
    try {
      const key = auditKey({ target, reference, candidateIds: candidates.ids, controlIds: controls?.ids ?? [], config: cmd.config });
      const path = checkpointPath(cmd.outputs, cmd.checkpoint);
      const measured = new Map<number, IndexedMeasurement>();
      let checkpoint: Checkpoint | undefined;
      if (cmd.resume) {
        if (path === undefined) throw new UsageError("--resume needs the checkpoint: pass the same -o FILE as the interrupted run, or --checkpoint FILE");
        const resumed = await Checkpoint.resume(path, key);
        checkpoint = resumed.checkpoint;
        for (const r of resumed.rows) measured.set(r.index, r);
        if (!cmd.quiet) process.stderr.write(`sslmem: resuming from ${path}: ${formatCount(measured.size)} points already measured\n`);
      } else if (path !== undefined) {
        checkpoint = await Checkpoint.create(path, key);
      }
      if (!cmd.quiet) process.stderr.write(`${planLine(prepared)}\n`);
      // Before the long part: an encoder that does not look trained (or is fed the wrong
      // preprocessing) is reported now, not after an hour.
      const health = await measureEncoderHealth(prepared);
      if (health) for (const w of encoderWarnings(health.target, health.reference)) process.stderr.write(`warning: ${w}\n`);
      const invalid = { candidates: [] as SkippedEntry[], controls: [] as SkippedEntry[] };
      const embeddings = cmd.embeddings === undefined ? undefined : await createEmbeddings(cmd.embeddings, prepared, cmd);
      try {
        await measureAll(prepared, cmd, measured, { checkpoint, embeddings }, invalid, signal);
        await embeddings?.finish();
      } catch (e) {
        await embeddings?.discard();
        if (measured.size > 0 && path !== undefined) {
          // A resumed audit cannot write --embeddings (audit-args.ts): say so before the user tries.
          const resume = embeddings ? "rerun the same command without --embeddings and with --resume to continue (or without --resume to start over with --embeddings)" : "rerun the same command with --resume to continue";
          process.stderr.write(`sslmem: ${formatCount(measured.size)} of ${formatCount(prepared.context.catalog.size)} points measured are kept in ${path}; ${resume}\n`);
        }
        throw e;
      }
      const rows = [...measured.values()].sort((a, b) => a.index - b.index);
      const described = describeAudit(prepared, { id: `local-${randomUUID()}`, created: new Date() }, cmd.config, invalid);
      const audit = Object.keys(sources).length > 0 ? { ...described, sources } : described;
      const { report } = finalizeAudit(audit, rows, cmd.config, { layers: describeLayers(prepared), health });
      for (const w of alignmentWarnings(report.summary.health?.controlsAlignment)) process.stderr.write(`warning: ${w}\n`);
      if (!cmd.quiet) process.stderr.write(`scored ${formatCount(rows.length)} points on ${prepared.providers.provider}\n`);
      const thumbnails = needsThumbnails(cmd.outputs) ? await thumbnailsFromSet(candidates, report) : undefined;
      return { report, thumbnails, checkpoint };
    } finally {
      await prepared.release();
    }
  } finally {
    await candidates.close();
    await controls?.close();
  }
}

export async function auditCommand(argv: string[], env: ClientEnv & Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const cmd = parseAuditCommand(argv, env);
  if (cmd === "help") {
    process.stdout.write(AUDIT_HELP);
    return EXIT.ok;
  }
  if (cmd.dryRun) return (await import("./inspect-command.ts")).runInspection(cmd, env);
  const interrupt = onInterrupt();
  try {
    let result: LocalAuditResult;
    if (cmd.server) {
      const { runRemoteAudit } = await import("./remote-audit.ts");
      const report = await runRemoteAudit(cmd, interrupt.signal);
      result = { report, thumbnails: needsThumbnails(cmd.outputs) ? await thumbnailsFromPath(cmd.candidates, report) : undefined };
    } else {
      result = await runLocalAudit(cmd, { signal: interrupt.signal, env });
    }
    await writeOutputs(result.report, cmd.outputs, { thumbnails: result.thumbnails, summary: cmd.quiet ? null : undefined });
    await result.checkpoint?.remove();
    return applyGate(result.report, cmd.gate);
  } catch (e) {
    if (interrupt.interrupted) {
      process.stderr.write("sslmem: audit interrupted; no report written (exit 130)\n");
      return EXIT.interrupted;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}
