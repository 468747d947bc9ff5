/** Opening a local audit's inputs, with errors that name the flag and path they concern. */
import { readFile } from "node:fs/promises";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { PointSet } from "../data/point-set.ts";
import { openPointSet } from "../data/sources.ts";
import { prepareAudit, type AuditInputs, type EngineSettings, type PreparedAudit } from "../engine/audit.ts";
import type { EngineLogger } from "../engine/providers.ts";
import { resolveLocalInputs } from "../sources/local-inputs.ts";
import type { AuditCommand } from "./audit-args.ts";
import { explainProviderFailure } from "./provider-advice.ts";

/** References (oci://, models:/, hf://, https://…#sha256=) become paths of cached blobs; plain paths stay. */
export function resolveInputs(cmd: AuditCommand, env: Readonly<Record<string, string | undefined>>) {
  return resolveLocalInputs(
    { target: cmd.target, reference: cmd.reference, candidates: cmd.candidates, ...(cmd.controls ? { controls: cmd.controls } : {}) },
    { env, allowUnpinned: cmd.allowUnpinned },
  );
}

export async function readModel(path: string, role: "target" | "reference"): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : "it cannot be read";
    throw new SslmemError("model_not_found", `--${role} '${path}': ${why}; pass the path of an ONNX file`);
  }
}

export async function openPoints(path: string, role: "candidates" | "controls"): Promise<PointSet> {
  try {
    return await openPointSet(path);
  } catch (e) {
    // The readers' messages do not say which input they are about; the flag and path are added here.
    if (isSslmemError(e)) throw new SslmemError(e.code, `--${role} '${path}': ${e.message}`, e.details);
    throw e;
  }
}

/** A local audit or inspection, prepared with the local engine settings (a provider failure explained). */
export async function prepareLocalAudit(inputs: AuditInputs, cmd: AuditCommand): Promise<PreparedAudit> {
  try {
    return await prepareAudit(inputs, cmd.config, localEngineSettings(cmd));
  } catch (e) {
    throw explainProviderFailure(e);
  }
}

/** The engine settings of a local audit or inspection, from its flags (one place, so both run alike). */
export function localEngineSettings(cmd: AuditCommand): EngineSettings {
  return {
    providers: cmd.providers && cmd.providers.length ? cmd.providers : "auto",
    threads: cmd.threads,
    deviceId: cmd.deviceId,
    memoryBudget: cmd.memoryBudget,
    // With the default (auto), falling back from cuda to cpu is expected, not worth a warning.
    logger: stderrLogger(cmd.quiet || !cmd.providers),
  };
}

/** Warnings from the engine (e.g. "cuda unavailable, using cpu") go to stderr as one line each. */
export function stderrLogger(quiet: boolean): EngineLogger {
  return {
    info() {},
    warn(obj: unknown, msg?: string) {
      if (quiet) return;
      const text = typeof obj === "string" ? obj : (msg ?? "");
      if (text) process.stderr.write(`warning: ${text}\n`);
    },
  };
}
