/**
 * Process concerns of the embedded service: open the stores under the data directory, start the
 * job runner, listen, and shut down gracefully. The HTTP API itself is src/http/app.ts.
 *
 * Shutdown order (SIGTERM/SIGINT or close()): report not-ready and end SSE streams, stop accepting
 * connections, abort the running audit so it checkpoints back into the queue, let in-flight
 * requests finish (cut after the grace period), then close the store.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { pino, type Logger } from "pino";
import type { Config } from "./config.ts";
import { SslmemError } from "./core/errors.ts";
import { clearEngineScratch, lockDataDir } from "./data-dir.ts";
import { createApp } from "./http/app.ts";
import { EventLoopMonitor } from "./http/event-loop.ts";
import { InProcessRunner } from "./jobs/in-process-runner.ts";
import { AuditNotifier } from "./jobs/notifier.ts";
import { RetentionSweeper } from "./jobs/retention.ts";
import { BullMqRunner } from "./jobs/bullmq-runner.ts";
import { queueSettings } from "./jobs/queue-jobs.ts";
import type { AuditExecutor, JobRunner } from "./jobs/types.ts";
import { FileBlobStore, type BlobStore } from "./store/blob-store.ts";
import { openStore, storeBackend } from "./store/open-store.ts";
import type { Store } from "./store/types.ts";

export interface ExecutorDeps {
  config: Config;
  store: Store;
  blobs: BlobStore;
  logger: Logger;
}

export interface StartServerOptions {
  /** Builds the executor once the stores are open (the lead's execute-audit.ts). */
  executor: (deps: ExecutorDeps) => AuditExecutor;
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that close the server (default true; tests pass false). */
  handleSignals?: boolean;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  address: AddressInfo;
  store: Store;
  blobs: BlobStore;
  runner: JobRunner;
  /** Graceful shutdown; idempotent. Resolves when the store is closed. */
  close(): Promise<void>;
}

export { DATABASE_FILE } from "./store/open-store.ts";
export const BLOB_DIR = "blobs";

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { service: "sslmem" } });
}

function listen(server: Server, config: Config): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new SslmemError("unavailable", `cannot listen on ${config.host}:${config.port} (${err.code ?? "error"})`, undefined, { cause: err }));
    server.once("error", onError);
    server.once("listening", () => {
      server.off("error", onError);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

export async function startServer(config: Config, options: StartServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config);
  const dataDir = resolve(config.dataDir);
  // Embedded mode owns its data directory (scaled-mode API replicas share theirs): lock it, and
  // remove every scratch file a previous run left (expanded archives, torn uploads).
  const embedded = config.databaseUrl === undefined;
  const lock = embedded ? lockDataDir(dataDir) : undefined;
  if (embedded) {
    const removed = clearEngineScratch(dataDir);
    if (removed > 0) logger.info({ removed }, "removed scratch files left by a previous run");
  }
  const store = await openStore(config, { onIdleError: (err) => logger.warn({ err }, "a pooled database connection failed; it will be replaced") });
  const blobs = await FileBlobStore.open(join(dataDir, BLOB_DIR), embedded ? { staleTempAfterMs: 0 } : {});
  const notifier = new AuditNotifier();
  // Scaled mode (SSLMEM_QUEUE): audits run on `sslmem worker` processes; this process only queues.
  const runner: JobRunner = config.queueUrl
    ? new BullMqRunner({ store, logger, notifier, settings: queueSettings(config) })
    : new InProcessRunner({ store, executor: options.executor({ config, store, blobs, logger }), logger, notifier });
  const retention = new RetentionSweeper({
    store,
    blobs,
    logger,
    hours: config.retentionHours,
    intervalMs: config.retentionSweepSeconds * 1000,
  });
  const eventLoop = new EventLoopMonitor();
  const shutdown = new AbortController();
  try {
    await runner.start();
  } catch (err) {
    await store.close();
    lock?.release();
    throw err;
  }
  const app = createApp({ config, store, blobs, runner, logger, notifier, shutdown: shutdown.signal, eventLoop });

  const server = serve({
    fetch: app.fetch,
    hostname: config.host,
    port: config.port,
    serverOptions: {
      requestTimeout: config.limits.requestTimeoutMs,
      headersTimeout: config.limits.headersTimeoutMs,
      keepAliveTimeout: config.limits.keepAliveTimeoutMs,
    },
  }) as Server;
  let address: AddressInfo;
  try {
    address = await listen(server, config);
  } catch (err) {
    await runner.stop({ graceMs: 0 });
    await store.close();
    lock?.release();
    eventLoop.stop();
    throw err;
  }
  retention.start();
  if (config.auth === "disabled") {
    logger.warn("authentication is DISABLED (SSLMEM_AUTH=disabled): every request acts as tenant 'local'; use only on a private machine");
  }
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  logger.info({ url, dataDir, auth: config.auth, store: storeBackend(config) }, "sslmem listening");

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info("shutting down");
      shutdown.abort();
      const serverClosed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      // One grace period for the whole shutdown: the audit's checkpoint, then in-flight requests.
      const deadline = Date.now() + config.shutdownGraceMs;
      await runner.stop({ graceMs: config.shutdownGraceMs });
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<void>((done) => (timer = setTimeout(done, Math.max(0, deadline - Date.now()))));
      await Promise.race([serverClosed, cut]);
      clearTimeout(timer);
      server.closeAllConnections();
      await retention.stop();
      eventLoop.stop();
      await store.close();
      lock?.release();
      logger.info("stopped");
    })());

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "signal received");
      close().then(
        () => process.off("SIGTERM", onSignal).off("SIGINT", onSignal),
        (err: unknown) => {
          logger.fatal({ err }, "shutdown failed");
          process.exitCode = 1;
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { url, address, store, blobs, runner, close };
}
