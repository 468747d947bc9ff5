/**
 * Process concerns of `sslmem worker` (the scaled mode's GPU worker), as server.ts is for the API:
 * open the shared store and blob directory, start the health server and the queue worker, and
 * shut down gracefully. The worker itself, as a value, is worker-app.ts (the ShardWorker with
 * the engine's executor, and its health routes).
 *
 * Shutdown (SIGTERM/SIGINT or close()) runs the releasers in reverse: the queue worker lets each
 * running shard finish its batch and puts it back in the queue (and closes the executor's cached
 * workspaces and sessions), then the health server and the store.
 */
import { mkdirSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { engineShardExecutorFactory } from "../jobs/engine-shard-executor.ts";
import { engineExecutorFactory } from "../jobs/execute-audit.ts";
import { queueSettings, type QueueSettings } from "../jobs/queue-jobs.ts";
import { createLogger } from "../process/logger.ts";
import { onShutdownSignal } from "../process/signals.ts";
import { Teardown } from "../process/teardown.ts";
import { FileBlobStore } from "../store/blob-store.ts";
import { dataDirLayout } from "../store/data-dir.ts";
import { openStore } from "../store/open-store.ts";
import { listenHealth } from "./health-server.ts";
import { createWorkerApp } from "./worker-app.ts";

export interface StartWorkerOptions {
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that close the worker (default true). */
  handleSignals?: boolean;
}

export interface RunningWorker {
  healthUrl: string;
  settings: QueueSettings;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
  /** Resolves once the worker has shut down (by close() or a signal). */
  closed: Promise<void>;
}

export async function startWorker(config: Config, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const logger = options.logger ?? createLogger(config).child({ role: "worker" });
  const settings = queueSettings(config);
  const layout = dataDirLayout(config.dataDir);
  mkdirSync(layout.tmp, { recursive: true });
  const teardown = new Teardown();
  let closing: Promise<void> | undefined;
  let finished: () => void = () => {};
  const closed = new Promise<void>((done) => (finished = done));
  const close = (): Promise<void> =>
    (closing ??= teardown.run(logger).then(() => {
      logger.info("stopped");
      finished();
    }));

  const store = await openStore(config, { onIdleError: (err) => logger.warn({ err }, "a pooled database connection failed; it will be replaced") });
  teardown.add("store", () => store.close());
  try {
    const blobs = await FileBlobStore.open(layout.blobs);
    // The engine in child processes under the budgets of SSLMEM_AUDIT_TIMEOUT_MS… (as `serve`),
    // or inline with SSLMEM_ENGINE_THREAD=main. One audit's inputs stay open between its shards.
    const executor =
      config.engineThread === "worker"
        ? engineShardExecutorFactory({ config, store, blobs, logger, concurrency: config.workerConcurrency })
        : engineExecutorFactory({ config, store, blobs, logger, keepWorkspaces: { idleMs: 60_000, maxIdle: 1 } });
    const { worker, health: routes } = createWorkerApp({ store, executor, logger, settings, concurrency: config.workerConcurrency });
    // Health first: /livez answers while Redis is being reached; /readyz turns green after.
    const health = await listenHealth(routes, config.workerHealthHost, config.workerHealthPort);
    teardown.add("health server", () => health.close());
    await worker.start();
    teardown.add("queue worker", () => worker.close({ graceMs: config.shutdownGraceMs }));
    if (options.handleSignals ?? true) {
      onShutdownSignal((signal) => {
        logger.info({ signal }, "signal received; finishing the current batches");
        void close();
      });
    }
    return { healthUrl: health.url, settings, close, closed };
  } catch (err) {
    await teardown.run(logger);
    throw err;
  }
}
