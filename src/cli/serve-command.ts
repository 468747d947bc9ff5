/**
 * `sslmem serve`: the HTTP service on the embedded default (SQLite + blob directory under
 * SSLMEM_DATA_DIR, in-process runner). Flags override the SSLMEM_* variables.
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig, type ConfigOverrides } from "../config.ts";
import { engineExecutorFactory } from "../jobs/execute-audit.ts";
import { workerEngineExecutorFactory } from "../jobs/worker-executor.ts";
import { startServer } from "../server.ts";
import { dataDirLayout } from "../store/data-dir.ts";
import { EXIT, UsageError } from "./errors.ts";

const HELP = `sslmem serve — run the audit HTTP service

Usage: sslmem serve [--host H] [--port P] [--data-dir DIR]

Every setting is also an environment variable (SSLMEM_HOST, SSLMEM_PORT, SSLMEM_DATA_DIR,
SSLMEM_AUTH, SSLMEM_PROVIDERS, SSLMEM_THREADS, SSLMEM_RETENTION_HOURS, limits…; see the README).
Stops gracefully on SIGTERM/SIGINT: running audits are checkpointed and resumed on restart.
`;

export async function serveCommand(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { host: { type: "string" }, port: { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem serve --help')`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const overrides: ConfigOverrides = {};
  if (values.host) overrides.host = values.host;
  if (values.port) overrides.port = values.port;
  if (values["data-dir"]) overrides.dataDir = values["data-dir"];
  const config = loadConfig(env, overrides);
  mkdirSync(dataDirLayout(config.dataDir).tmp, { recursive: true });
  // The engine runs in a child process unless SSLMEM_ENGINE_THREAD=main (see worker-executor.ts).
  const server = await startServer(config, {
    executor: (deps) => (config.engineThread === "worker" ? workerEngineExecutorFactory(deps) : engineExecutorFactory(deps)),
  });
  process.stderr.write(`sslmem: serving on ${server.url} (data in ${config.dataDir}; docs at ${server.url}/docs)\n`);
  // The process lives until SIGTERM/SIGINT: then the server's graceful shutdown (the running
  // audit is checkpointed back into the queue, the engine worker ends) and the command returns 0.
  await server.closed;
  return EXIT.ok;
}
