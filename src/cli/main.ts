/**
 * `sslmem <command>`: the dispatcher. Each command lives in its own module, loaded lazily so that
 * `sslmem --help` and `sslmem gate` start fast. Every failure ends here as one line on stderr and
 * exit code 1 — never a stack trace.
 */
import { isSslmemError } from "../core/errors.ts";
import { EXIT, UsageError } from "./errors.ts";

const HELP = `sslmem — memorization audits for self-supervised image encoders

Usage: sslmem <command> [options]

Commands:
  audit     score candidates locally (or on a server with --server) and apply a CI gate
  gate      re-apply a gate to a saved JSON report, offline
  serve     run the HTTP service (embedded: SQLite + local blobs under SSLMEM_DATA_DIR)
  worker    run audit shards from the scaled mode's queue (SSLMEM_QUEUE=redis://…)
  token     manage API tokens: token create --tenant NAME
  admin     operator commands on the local store: admin audits list|cancel|fail
  openapi   print the OpenAPI document

Run 'sslmem <command> --help' for a command's options.
Exit codes: 0 ok / gate passed, 2 gate tripped, 1 error.
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  audit: async () => (await import("./audit-command.ts")).auditCommand,
  gate: async () => (await import("./gate-command.ts")).gateCommand,
  serve: async () => (await import("./serve-command.ts")).serveCommand,
  worker: async () => (await import("./worker-command.ts")).workerCommand,
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
    process.stderr.write(`error: unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(", ")} (see 'sslmem --help')\n`);
    return EXIT.error;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    process.stderr.write(`${describeError(e)}\n`);
    return EXIT.error;
  }
}
