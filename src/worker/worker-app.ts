/**
 * The worker as a value, like the API's http/app.ts: the queue worker (ShardWorker) and its
 * health routes, built from open stores. worker-process.ts is the process around it (opening
 * the stores, listening, signals, teardown); a test can build this and drive it directly.
 */
import type { Logger } from "pino";
import type { QueueSettings } from "../jobs/queue-jobs.ts";
import { ShardWorker, type ShardExecutor, type ShardWorkerStore } from "../jobs/shard-worker.ts";
import type { StoreHealth } from "../store/types.ts";
import { workerHealthRoutes, type HealthHandler } from "./health-server.ts";

export interface WorkerAppDeps {
  store: ShardWorkerStore & StoreHealth;
  executor: ShardExecutor;
  logger: Logger;
  settings: QueueSettings;
  concurrency?: number;
}

export interface WorkerApp {
  worker: ShardWorker;
  health: HealthHandler;
}

export function createWorkerApp(deps: WorkerAppDeps): WorkerApp {
  const worker = new ShardWorker({
    store: deps.store,
    executor: deps.executor,
    logger: deps.logger,
    settings: deps.settings,
    ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
  });
  return { worker, health: workerHealthRoutes(worker, deps.store, deps.logger) };
}
