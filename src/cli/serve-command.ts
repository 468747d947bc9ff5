/**
 * `sslmem serve`: the HTTP service on the embedded default (SQLite + blob directory under
 * SSLMEM_DATA_DIR, in-process runner). Flags override the SSLMEM_* variables.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, type ConfigOverrides } from "../config.ts";
import { engineExecutorFactory } from "../jobs/execute-audit.ts";
import { workerEngineExecutorFactory, type WorkerEngineExecutor } from "../jobs/worker-executor.ts";
import { startServer } from "../server.ts";
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
  if (values.port) overrides.port = Number(values.port) as never;
  if (values["data-dir"]) overrides.dataDir = values["data-dir"];
  const config = loadConfig(env, overrides);
  mkdirSync(join(config.dataDir, "tmp"), { recursive: true });
  // The engine runs in a child process unless SSLMEM_ENGINE_THREAD=main (see worker-executor.ts).
  let worker: WorkerEngineExecutor | undefined;
  const server = await startServer(config, {
    executor: (deps) => (config.engineThread === "worker" ? (worker = workerEngineExecutorFactory(deps)) : engineExecutorFactory(deps)),
    handleSignals: false,
  });
  process.stderr.write(`sslmem: serving on ${server.url} (data in ${config.dataDir}; docs at ${server.url}/docs)\n`);
  // The process lives until SIGTERM/SIGINT: then a graceful shutdown (the running audit is
  // checkpointed back into the queue), the engine worker ends, and the command returns 0.
  await new Promise<void>((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
      process.stderr.write(`sslmem: ${signal} received, shutting down\n`);
      // The shutdown is bounded by its grace period; this guards against anything that would
      // still hold the process after it (the exit code says it was not clean).
      setTimeout(() => {
        process.stderr.write("sslmem: shutdown did not finish in time; exiting\n");
        process.exit(1);
      }, config.shutdownGraceMs + 5_000).unref();
      server
        .close()
        .then(() => worker?.close())
        .then(resolve, reject);
    };
    process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  });
  return EXIT.ok;
}
