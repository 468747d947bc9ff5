/**
 * `sslmem <command>`: the dispatcher. Each command lives in its own module, loaded lazily so that
 * `sslmem --help` and `sslmem gate` start fast. Every failure ends here as one line on stderr and
 * exit code 1 — never a stack trace.
 */
import { isSslmemError } from "../core/errors.ts";
import { editDistance } from "./parse-flags.ts";
import { EXIT, EXIT_CODES_HELP, UsageError } from "./errors.ts";

const HELP = `sslmem — memorization audits for self-supervised image encoders

Usage: sslmem <command> [options]

Commands:
  audit     score candidates locally (or on a server with --server) and apply a CI gate
  units     UnitMem: which units of one encoder single out one image
  inspect   check an audit without running it (same flags as audit): contracts, files, plan, ETA
  gate      re-apply a gate to a saved JSON report, offline
  report    re-render a saved JSON report (-o report.html, junit, sarif, csv, table)
  serve     run the HTTP service (embedded: SQLite + local blobs under SSLMEM_DATA_DIR)
  worker    run audit shards from the scaled mode's queue (SSLMEM_QUEUE=redis://…)
  stamp     write an encoder's preprocessing (normalization, layout) into a copy of the model
  token     manage API tokens: token create --tenant NAME
  admin     operator commands on the local store: admin audits list|cancel|fail
  openapi   print the OpenAPI document

Run 'sslmem <command> --help' for a command's options.
${EXIT_CODES_HELP}
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  audit: async () => (await import("./audit-command.ts")).auditCommand,
  inspect: async () => (await import("./inspect-command.ts")).inspectCommand,
  gate: async () => (await import("./gate-command.ts")).gateCommand,
  units: async () => (await import("./units-command.ts")).unitsCommand,
  report: async () => (await import("./report-command.ts")).reportCommand,
  serve: async () => (await import("./serve-command.ts")).serveCommand,
  worker: async () => (await import("./worker-command.ts")).workerCommand,
  stamp: async () => (await import("./stamp-command.ts")).stampCommand,
  token: async () => (await import("./token-command.ts")).tokenCommand,
  admin: async () => (await import("./admin-command.ts")).adminCommand,
  openapi: async () => (await import("./openapi-command.ts")).openapiCommand,
};

export function describeError(e: unknown): string {
  if (e instanceof UsageError) return `error: ${e.message}`;
  if (isSslmemError(e)) return `error [${e.code}]: ${e.message}`;
  const msg = e instanceof Error ? e.message : String(e);
  return `error: ${msg.split("\n")[0]}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name ? EXIT.ok : EXIT.error;
  }
  if (name === "--version" || name === "-v") {
    const { createRequire } = await import("node:module");
    process.stdout.write(`${createRequire(import.meta.url)("../../package.json").version}\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    const near = Object.keys(COMMANDS).find((c) => editDistance(c, name) <= 2);
    process.stderr.write(`error: unknown command '${name}'${near ? ` — did you mean '${near}'?` : ""}; commands: ${Object.keys(COMMANDS).join(", ")} (see 'sslmem --help')\n`);
    return EXIT.error;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    process.stderr.write(`${describeError(e)}\n`);
    return EXIT.error;
  }
}
