/**
 * Writing reports: stdout or files, several formats in one run. A file is written next to its
 * destination and renamed, so an interrupted run never leaves half a report. When every output
 * goes to a file, the summary table goes to stderr on a terminal, so a user still sees the result.
 */
import { rename, writeFile } from "node:fs/promises";
import type { ReportV1 } from "../core/report.ts";
import { SslmemError } from "../core/errors.ts";
import { renderReport } from "../report/index.ts";
import type { OutputTarget } from "./audit-args.ts";

export interface WriteOptions {
  thumbnails?: Map<string, string>;
  stdout?: NodeJS.WritableStream;
  /** Where the summary goes when nothing is written to stdout (default: stderr when it is a TTY). */
  summary?: NodeJS.WritableStream | null;
}

export function needsThumbnails(outputs: readonly OutputTarget[]): boolean {
  return outputs.some((o) => o.format === "html");
}

export async function writeOutputs(report: ReportV1, outputs: OutputTarget[], opts: WriteOptions = {}): Promise<void> {
  for (const out of outputs) {
    const text = renderReport(report, out.format, { thumbnails: out.format === "html" ? opts.thumbnails : undefined });
    if (!out.file || out.file === "-") {
      (opts.stdout ?? process.stdout).write(text);
      continue;
    }
    const tmp = `${out.file}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, text);
      await rename(tmp, out.file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      throw new SslmemError("invalid_config", `-o ${out.file}: cannot write the ${out.format} report (${code}); check that the folder exists and is writable`);
    }
  }
  const toStdout = outputs.some((o) => !o.file || o.file === "-");
  const summary = opts.summary === undefined ? (process.stderr.isTTY ? process.stderr : null) : opts.summary;
  if (!toStdout && summary) summary.write(renderReport(report, "table"));
}
