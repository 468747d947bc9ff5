/**
 * `sslmem audit`: run an audit locally (or on a server with --server), write the requested
 * outputs, and apply the gate. Exit 0 = passed, 2 = tripped, 1 = error.
 */
import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import type { ReportV1 } from "../core/report.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { openPointSet } from "../data/sources.ts";
import type { PointSet } from "../data/point-set.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../engine/audit.ts";
import { measurePoints } from "../engine/measure.ts";
import { resolveLocalInputs } from "../sources/local-inputs.ts";
import type { EngineLogger } from "../engine/providers.ts";
import { AUDIT_HELP, parseAuditCommand, type AuditCommand } from "./audit-args.ts";
import { EXIT } from "./errors.ts";
import { applyGate, writeOutputs } from "./outputs.ts";
import { createProgress } from "./progress.ts";

async function readModel(path: string, role: "target" | "reference"): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : "it cannot be read";
    throw new SslmemError("model_not_found", `--${role} '${path}': ${why}; pass the path of an ONNX file`);
  }
}

async function openPoints(path: string, role: "candidates" | "controls"): Promise<PointSet> {
  try {
    return await openPointSet(path);
  } catch (e) {
    // The readers' messages do not say which input they are about; the flag and path are added here.
    if (isSslmemError(e)) throw new SslmemError(e.code, `--${role} '${path}': ${e.message}`, e.details);
    throw e;
  }
}

/** Warnings from the engine (e.g. "cuda unavailable, using cpu") go to stderr as one line each. */
function stderrLogger(quiet: boolean): EngineLogger {
  return {
    info() {},
    warn(obj: unknown, msg?: string) {
      if (quiet) return;
      const text = typeof obj === "string" ? obj : (msg ?? "");
      if (text) process.stderr.write(`warning: ${text}\n`);
    },
  };
}

export async function runLocalAudit(cmd: AuditCommand, env: Readonly<Record<string, string | undefined>> = process.env): Promise<ReportV1> {
  const progress = createProgress({ quiet: cmd.quiet });
  // References (oci://, models:/, hf://, https://…#sha256=) become paths of cached blobs.
  const { paths, sources } = await resolveLocalInputs(
    { target: cmd.target, reference: cmd.reference, candidates: cmd.candidates, ...(cmd.controls ? { controls: cmd.controls } : {}) },
    { env, allowUnpinned: cmd.allowUnpinned },
  );
  const [target, reference] = [await readModel(paths.target!, "target"), await readModel(paths.reference!, "reference")];
  const candidates = await openPoints(paths.candidates!, "candidates");
  const controls = paths.controls ? await openPoints(paths.controls, "controls") : undefined;
  try {
    const prepared = await prepareAudit({ target, reference, candidates, controls }, cmd.config, {
      providers: cmd.providers && cmd.providers.length ? (cmd.providers as never) : "auto",
      threads: cmd.threads,
      // With the default (auto), falling back from cuda to cpu is expected, not worth a warning.
      logger: stderrLogger(cmd.quiet || !cmd.providers),
    });
    try {
      const measurements = await measurePoints(prepared.context, {
        onProgress: (done, total) => progress.update("scoring", done, total),
      });
      const described = describeAudit(prepared, { id: `local-${randomUUID()}`, created: new Date() }, cmd.config);
      const audit = Object.keys(sources).length > 0 ? { ...described, sources } : described;
      const { report } = finalizeAudit(audit, measurements, cmd.config);
      progress.done(`scored ${measurements.length} points on ${prepared.providers.provider}`);
      return report;
    } finally {
      await prepared.release();
    }
  } finally {
    progress.done();
    await candidates.close();
    await controls?.close();
  }
}

export async function auditCommand(argv: string[]): Promise<number> {
  const cmd = parseAuditCommand(argv);
  if (cmd === "help") {
    process.stdout.write(AUDIT_HELP);
    return EXIT.ok;
  }
  let report: ReportV1;
  if (cmd.server) {
    const { runRemoteAudit } = await import("./remote-audit.ts");
    report = await runRemoteAudit(cmd);
  } else {
    report = await runLocalAudit(cmd);
  }
  await writeOutputs(report, cmd.outputs);
  return applyGate(report, cmd.failOnFlagged);
}
