/**
 * `sslmem gate report.json --fail-on-flagged N`: re-applies a gate to a saved JSON report, offline.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ReportV1Schema, type ReportV1 } from "../core/report.ts";
import { SslmemError } from "../core/errors.ts";
import { EXIT, UsageError } from "./errors.ts";
import { applyGate } from "./outputs.ts";

const HELP = `sslmem gate — re-apply a gate to a saved JSON report

Usage: sslmem gate REPORT.json --fail-on-flagged N

Exit codes: 0 gate passed, 2 gate tripped, 1 error (unreadable or invalid report).
`;

export async function loadReport(path: string): Promise<ReportV1> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new SslmemError("invalid_config", `cannot read report '${path}'; pass the JSON report written by 'sslmem audit -o json=FILE'`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SslmemError("invalid_config", `'${path}' is not JSON; pass a report written with --format json`);
  }
  const parsed = ReportV1Schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SslmemError("invalid_config", `'${path}' is not an sslmem.report/v1 document (${first.path.join(".") || "root"}: ${first.message})`);
  }
  return parsed.data;
}

export async function gateCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { "fail-on-flagged": { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem gate --help')`);
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (parsed.positionals.length !== 1) throw new UsageError("pass exactly one report file (see 'sslmem gate --help')");
  const raw = parsed.values["fail-on-flagged"];
  if (raw === undefined) throw new UsageError("--fail-on-flagged N is required: the gate trips when more than N points are flagged");
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError("--fail-on-flagged takes a non-negative integer");
  const report = await loadReport(parsed.positionals[0]);
  return applyGate(report, n);
}
