/**
 * `sslmem worker`: a scaled-mode worker process. It takes plan, shard and merge jobs from the
 * BullMQ queue at SSLMEM_QUEUE, reads inputs from the shared blob directory under
 * SSLMEM_DATA_DIR, writes results and state to the shared store (SSLMEM_DATABASE_URL, or the
 * SQLite file under SSLMEM_DATA_DIR when every process runs on one machine), and serves /livez,
 * /readyz and /metrics on SSLMEM_WORKER_HEALTH_PORT.
 */
import { parseArgs } from "node:util";
import { loadConfig, type ConfigOverrides } from "../config.ts";
import { redactRedisUrl } from "../jobs/redis-ready.ts";
import { storeBackend } from "../store/open-store.ts";
import { startWorker } from "../worker/worker-process.ts";
import { EXIT, UsageError } from "./errors.ts";

const HELP = `sslmem worker — run audit shards from the scaled mode's queue

Usage: sslmem worker [--data-dir DIR] [--concurrency N] [--health-port P]

Settings (environment):
  SSLMEM_QUEUE               Redis URL of the job queue (required), e.g. redis://redis:6379
  SSLMEM_DATABASE_URL        PostgreSQL shared with the API (else SQLite under the data directory)
  SSLMEM_DATA_DIR            data directory; its blobs/ is the blob store shared with the API
  SSLMEM_WORKER_HEALTH_PORT  /livez, /readyz and /metrics (default 9090; 0 = any free port)
  SSLMEM_WORKER_CONCURRENCY  jobs at once (default 1: one device)
  SSLMEM_SHARD_SIZE          points per shard when this worker plans an audit (default 256)
  SSLMEM_PROVIDERS, SSLMEM_THREADS, SSLMEM_QUEUE_* (timings, attempts), limits… (see the README)
Stops gracefully on SIGTERM/SIGINT: each running shard finishes its batch and goes back to the
queue for another worker.
`;

export async function workerCommand(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "data-dir": { type: "string" },
        concurrency: { type: "string" },
        "health-port": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem worker --help')`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const overrides: ConfigOverrides = {};
  if (values["data-dir"]) overrides.dataDir = values["data-dir"];
  if (values.concurrency) overrides.workerConcurrency = values.concurrency;
  if (values["health-port"]) overrides.workerHealthPort = values["health-port"];
  const config = loadConfig(env, overrides);
  const worker = await startWorker(config);
  process.stderr.write(
    `sslmem: worker taking jobs from ${redactRedisUrl(worker.settings.url)} queue '${worker.settings.name}' ` +
      `(store: ${storeBackend(config)}, health on ${worker.healthUrl})\n`,
  );
  await worker.closed;
  return EXIT.ok;
}
