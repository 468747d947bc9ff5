/**
 * The GitHub Action's entry point (action.yml runs it through ci/github/entry.mjs). It is a thin
 * shell around the CLI, which stays the engine: the inputs become `sslmem audit` flags, the CLI
 * writes the JSON report and the Markdown summary, and its exit code is the verdict. Then:
 * - $GITHUB_STEP_SUMMARY gets the verdict and the Markdown summary;
 * - $GITHUB_OUTPUT gets `verdict`, `flagged` and `report-url`;
 * - the step exits with the CLI's code (0 pass, 2 fail, 3 inconclusive, 1 error).
 * Inputs arrive as INPUT_* variables (action.yml passes each one explicitly). The token is never
 * printed; GitHub masks it as a secret as well.
 */
import { appendFile, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReportV1Schema, type ReportV1 } from "../core/report.ts";
import { verdictHeadline, verdictOfExitCode } from "./verdict.ts";

export type Env = Readonly<Record<string, string | undefined>>;
/** Runs `sslmem <argv>` and returns its exit code (in-process: src/cli/main.ts). */
export type CliRunner = (argv: string[]) => Promise<number>;

function input(env: Env, name: string): string | undefined {
  const v = env[`INPUT_${name.toUpperCase().replace(/-/g, "_")}`]?.trim();
  return v ? v : undefined;
}

/** `sarif=a.sarif junit=b.xml` (spaces, commas or newlines between) → CLI `-o` values. */
export function parseOutputsInput(text: string | undefined): string[] {
  return (text ?? "").split(/[\s,]+/).filter(Boolean);
}

/** Extra CLI flags, split on whitespace (no shell: quotes are not interpreted). */
export function parseArgsInput(text: string | undefined): string[] {
  return (text ?? "").split(/\s+/).filter(Boolean);
}

export interface ActionResult {
  exitCode: number;
  verdict: ReturnType<typeof verdictOfExitCode>;
  flagged?: number;
  reportUrl?: string;
}

export function auditArgv(env: Env, files: { report: string; summary: string }): string[] {
  const argv = ["audit"];
  for (const name of ["server", "token", "target", "reference", "candidates", "controls"]) {
    const v = input(env, name);
    if (v !== undefined) argv.push(`--${name}`, v);
  }
  const gate = input(env, "gate");
  if (gate !== undefined) argv.push("--fail-on-flagged", gate);
  if (input(env, "allow-unpinned") === "true") argv.push("--allow-unpinned");
  argv.push(...parseArgsInput(input(env, "args")));
  argv.push("-o", `json=${files.report}`, "-o", `markdown=${files.summary}`);
  for (const o of parseOutputsInput(input(env, "outputs"))) argv.push("-o", o);
  return argv;
}

async function readReport(path: string): Promise<ReportV1 | undefined> {
  try {
    const parsed = ReportV1Schema.safeParse(JSON.parse(await readFile(path, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // the CLI failed before writing it
  }
}

/** A GitHub output value on one line (outputs are `name=value` lines). */
function outputLine(name: string, value: string): string {
  return `${name}=${value.replace(/[\r\n]+/g, " ")}\n`;
}

export async function runGithubAction(env: Env, runCli: CliRunner): Promise<ActionResult> {
  const dir = await mkdtemp(join(env.RUNNER_TEMP || tmpdir(), "sslmem-action-"));
  const files = { report: join(dir, "report.json"), summary: join(dir, "summary.md") };
  const exitCode = await runCli(auditArgv(env, files));
  const verdict = verdictOfExitCode(exitCode);
  const report = await readReport(files.report);
  const server = input(env, "server")?.replace(/\/+$/, "");
  const result: ActionResult = {
    exitCode,
    verdict,
    ...(report ? { flagged: report.summary.flagged } : {}),
    ...(report && server ? { reportUrl: `${server}/v1/audits/${encodeURIComponent(report.audit.id)}/report` } : {}),
  };
  if (env.GITHUB_STEP_SUMMARY) {
    const gate = input(env, "gate");
    const lines = [`# ${verdictHeadline(verdict)}`, ""];
    if (gate !== undefined && report) lines.push(`Gate: at most ${gate} flagged candidates; ${report.summary.flagged} flagged.`, "");
    if (result.reportUrl) lines.push(`Full report: ${result.reportUrl}?format=html`, "");
    const summary = report ? await readFile(files.summary, "utf8").catch(() => "") : "";
    await appendFile(env.GITHUB_STEP_SUMMARY, `${lines.join("\n")}${summary}\n`);
  }
  if (env.GITHUB_OUTPUT) {
    await appendFile(
      env.GITHUB_OUTPUT,
      outputLine("verdict", verdict) + outputLine("flagged", result.flagged === undefined ? "" : String(result.flagged)) + outputLine("report-url", result.reportUrl ?? ""),
    );
  }
  return result;
}
