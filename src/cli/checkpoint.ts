/**
 * The checkpoint of a local audit: what it has measured so far, so that Ctrl-C or an error never
 * loses a long run. An NDJSON file: a header line naming the audit it belongs to (a digest of both
 * models, the point ids of both sets and every config field that changes a score), then one line
 * per measured point, appended batch by batch. `--resume` reads it back and measures only the rest;
 * a finished audit deletes it.
 */
import { createHash } from "node:crypto";
import { appendFile, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { IndexedMeasurement } from "../engine/measure.ts";
import type { OutputTarget } from "./audit-args.ts";

const FORMAT = "sslmem.checkpoint/v1";

/**
 * `--checkpoint FILE`, else next to the first report file (`report.json.checkpoint`); undefined
 * when every report goes to stdout and none was named (no file is written into the working
 * directory behind the user's back).
 */
export function checkpointPath(outputs: readonly OutputTarget[], explicit?: string): string | undefined {
  if (explicit) return explicit;
  const file = outputs.find((o) => o.file && o.file !== "-")?.file;
  return file ? join(dirname(file), `${file.split("/").pop()}.checkpoint`) : undefined;
}

/** What identifies an audit's measurements: not the batch size, which changes no score. */
export function auditKey(parts: { target: Uint8Array; reference: Uint8Array; candidateIds: readonly string[]; controlIds: readonly string[]; config: AuditConfig }): string {
  const h = createHash("sha256");
  const { batchSize: _batchSize, ...scoring } = parts.config;
  for (const bytes of [parts.target, parts.reference]) h.update(createHash("sha256").update(bytes).digest());
  h.update(JSON.stringify([parts.candidateIds, parts.controlIds, scoring]));
  return h.digest("hex");
}

export class Checkpoint {
  private constructor(
    readonly path: string,
    readonly key: string,
  ) {}

  /** A fresh checkpoint (any old file at `path` is replaced). */
  static async create(path: string, key: string): Promise<Checkpoint> {
    try {
      await writeFile(path, JSON.stringify({ format: FORMAT, key }) + "\n");
    } catch (e) {
      throw new SslmemError("invalid_config", `cannot write the checkpoint '${path}' (${(e as NodeJS.ErrnoException).code ?? "error"}); pass --checkpoint FILE in a writable folder`);
    }
    return new Checkpoint(path, key);
  }

  /** The rows of an existing checkpoint of the same audit; refuses one written for another audit. */
  static async resume(path: string, key: string): Promise<{ checkpoint: Checkpoint; rows: IndexedMeasurement[] }> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      throw new SslmemError("invalid_config", `--resume: no checkpoint at '${path}'; run without --resume to start the audit`);
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    let header: { format?: string; key?: string };
    try {
      header = JSON.parse(lines[0] ?? "{}");
    } catch {
      header = {};
    }
    if (header.format !== FORMAT) throw new SslmemError("invalid_config", `--resume: '${path}' is not an sslmem checkpoint`);
    if (header.key !== key) {
      throw new SslmemError("invalid_config", `--resume: '${path}' belongs to a different audit (other models, points or settings); delete it or run without --resume`);
    }
    const rows: IndexedMeasurement[] = [];
    for (const line of lines.slice(1)) {
      try {
        rows.push(JSON.parse(line) as IndexedMeasurement);
      } catch {
        break; // a line cut by the interruption: everything before it is whole
      }
    }
    const checkpoint = new Checkpoint(path, key);
    // Rewrite without a cut tail so that appends start on a fresh line.
    await writeFile(path, [JSON.stringify({ format: FORMAT, key }), ...rows.map((r) => JSON.stringify(r))].join("\n") + "\n");
    return { checkpoint, rows };
  }

  async append(rows: readonly IndexedMeasurement[]): Promise<void> {
    if (rows.length === 0) return;
    await appendFile(this.path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
