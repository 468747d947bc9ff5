/**
 * Writing reports (stdout or files, several formats in one run) and the CI gate.
 */
import { writeFile } from "node:fs/promises";
import type { ReportV1 } from "../core/report.ts";
import { SslmemError } from "../core/errors.ts";
import { renderReport } from "../report/index.ts";
import type { OutputTarget } from "./audit-args.ts";
import { EXIT } from "./errors.ts";

export async function writeOutputs(
  report: ReportV1,
  outputs: OutputTarget[],
  opts: { thumbnails?: Map<string, string>; stdout?: NodeJS.WritableStream } = {},
): Promise<void> {
  for (const out of outputs) {
    const text = renderReport(report, out.format, { thumbnails: opts.thumbnails });
    if (!out.file || out.file === "-") {
      (opts.stdout ?? process.stdout).write(text);
      continue;
    }
    try {
      await writeFile(out.file, text);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      throw new SslmemError("invalid_config", `cannot write the ${out.format} report to '${out.file}' (${code}); check that the folder exists and is writable`);
    }
  }
}

/**
 * The gate: with --fail-on-flagged N, more than N flagged candidates trips it (exit 2).
 * Without it the audit only reports (exit 0). One line on stderr says which way it went.
 */
export function applyGate(report: ReportV1, failOnFlagged: number | undefined, stderr: NodeJS.WritableStream = process.stderr): number {
  const flagged = report.summary.flagged; // candidates only: controls are never flagged
  const method = report.summary.flag.method;
  const calibrated = report.summary.flag.calibrated ? "calibrated" : "uncalibrated";
  if (failOnFlagged === undefined) {
    stderr.write(`sslmem: ${flagged} of ${report.summary.candidates} candidates flagged (${method}, ${calibrated}); no gate set\n`);
    return EXIT.ok;
  }
  if (flagged > failOnFlagged) {
    stderr.write(`sslmem: gate TRIPPED: ${flagged} flagged > --fail-on-flagged ${failOnFlagged} (${method}, ${calibrated})\n`);
    return EXIT.gateTripped;
  }
  stderr.write(`sslmem: gate passed: ${flagged} flagged ≤ --fail-on-flagged ${failOnFlagged} (${method}, ${calibrated})\n`);
  return EXIT.ok;
}
