/**
 * Process concerns of the API service: open the stores under the data directory, start the job
 * runner, listen, and shut down gracefully. The HTTP API itself is src/http/app.ts.
 *
 * Shutdown (SIGTERM/SIGINT or close()) runs the releasers registered below in reverse: report
 * not-ready, end SSE streams and stop accepting connections; stop the runner (the running audit
 * checkpoints back into the queue) while in-flight requests finish, cut after the grace period;
 * then the executor, the event-loop monitor and the store.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import { AuditService } from "./audits/audit-service.ts";
import type { Config } from "./config.ts";
import { SslmemError } from "./core/errors.ts";
import { buildAppServices, createAppFor } from "./http/app.ts";
import { AuditDurations } from "./http/metrics.ts";
import { registryIntegration } from "./registry-integration.ts";
import { EventLoopMonitor } from "./http/event-loop.ts";
import { InProcessRunner } from "./jobs/in-process-runner.ts";
import { AuditNotifier } from "./jobs/notifier.ts";
import { RetentionSweeper } from "./jobs/retention.ts";
import { BullMqRunner } from "./jobs/bullmq-runner.ts";
import { queueSettings } from "./jobs/queue-jobs.ts";
import type { AuditExecutor, ExecutorDeps, JobRunner } from "./jobs/types.ts";
import { settledWithin } from "./process/deadline.ts";
import { createLogger } from "./process/logger.ts";
import { clearEngineScratch, lockDataDir } from "./process/data-dir-lock.ts";
import { onShutdownSignal } from "./process/signals.ts";
import { Teardown } from "./process/teardown.ts";
import { FileBlobStore, type BlobStore } from "./store/blob-store.ts";
import { dataDirLayout } from "./store/data-dir.ts";
import { openStore, storeBackend } from "./store/open-store.ts";
import type { Store } from "./store/types.ts";

export type { ExecutorDeps } from "./jobs/types.ts";

export interface StartServerOptions {
  /** Builds the executor once the stores are open (embedded mode only; its close() runs at shutdown). */
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
  /** Resolves once the server has shut down (by close() or a signal). */
  closed: Promise<void>;
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
  const layout = dataDirLayout(config.dataDir);
  const teardown = new Teardown();
  const shutdown = new AbortController();
  let closing: Promise<void> | undefined;
  let signalled: () => void = () => {};
  const closed = new Promise<void>((done) => (signalled = done));
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info("shutting down");
      shutdown.abort();
      await teardown.run(logger);
      logger.info("stopped");
      signalled();
    })());

  // Embedded mode owns its data directory (scaled-mode API replicas share theirs): lock it, and
  // remove every scratch file a previous run left (expanded archives, torn uploads).
  const embedded = config.databaseUrl === undefined;
  if (embedded) {
    const lock = lockDataDir(layout.root);
    teardown.add("data directory lock", () => lock.release());
    const removed = clearEngineScratch(layout.root);
    if (removed > 0) logger.info({ removed }, "removed scratch files left by a previous run");
  }
  let store: Store;
  try {
    store = await openStore(config, { onIdleError: (err) => logger.warn({ err }, "a pooled database connection failed; it will be replaced") });
  } catch (err) {
    await teardown.run(logger);
    throw err;
  }
  teardown.add("store", () => store.close());
  let runner: JobRunner;
  let address: AddressInfo;
  try {
    const blobs = await FileBlobStore.open(layout.blobs, embedded ? { staleTempAfterMs: 0 } : {});
    const notifier = new AuditNotifier();
    const auditDurations = new AuditDurations();
    const audits = new AuditService({ store, logger, onEvent: (id) => notifier.notify(id), onFinished: (outcome, s) => auditDurations.observe(outcome, s) });
    const eventLoop = new EventLoopMonitor();
    teardown.add("event-loop monitor", () => eventLoop.stop());
    if (config.queueUrl) {
      // Scaled mode (SSLMEM_QUEUE): audits run on `sslmem worker` processes; this process only queues.
      runner = new BullMqRunner({ audits, store, logger, notifier, settings: queueSettings(config) });
    } else {
      const executor = options.executor({ config, store, blobs, logger });
      if (executor.close) teardown.add("engine", () => executor.close?.());
      runner = new InProcessRunner({ audits, store, executor, logger, maxCrashes: config.limits.maxAuditCrashes });
    }
    const integration = registryIntegration({ config, store, blobs, logger });
    const services = buildAppServices({ config, store, audits, blobs, runner, logger, notifier, shutdown: shutdown.signal, eventLoop, outbox: integration.outbox, auditDurations });
    const app = createAppFor(services);
    await runner.start();
    integration.start(services);
    teardown.add("outbox dispatcher and OCI watch poller", () => integration.stop());
    const started = runner;
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
    // One releaser for the server and the runner: connections stop being accepted first, the
    // running audit checkpoints while in-flight requests finish, and those are cut after the grace.
    teardown.add("http server and job runner", async () => {
      const serverClosed = server.listening ? new Promise<void>((done) => server.close(() => done())) : undefined;
      server.closeIdleConnections();
      // One grace period for both: the audit's checkpoint, then in-flight requests.
      const deadline = Date.now() + config.shutdownGraceMs;
      await started.stop({ graceMs: config.shutdownGraceMs });
      await settledWithin(serverClosed, Math.max(0, deadline - Date.now()));
      server.closeAllConnections();
    });
    address = await listen(server, config);
    const retention = new RetentionSweeper({ store, blobs, logger, hours: config.retentionHours, intervalMs: config.retentionSweepSeconds * 1000 });
    retention.start();
    teardown.add("retention sweeper", () => retention.stop());
    const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
    if (config.auth === "disabled") {
      logger.warn("authentication is DISABLED (SSLMEM_AUTH=disabled): every request acts as tenant 'local'; use only on a private machine");
    }
    logger.info({ url, dataDir: layout.root, auth: config.auth, store: storeBackend(config) }, "sslmem listening");
    if (options.handleSignals ?? true) {
      onShutdownSignal((signal) => {
        logger.info({ signal }, "signal received");
        // The shutdown is bounded by its grace period; this guards against anything that would
        // still hold the process after it (the exit code says it was not clean).
        setTimeout(() => {
          logger.fatal({ graceMs: config.shutdownGraceMs }, "shutdown did not finish in time; exiting");
          process.exit(1);
        }, config.shutdownGraceMs + 5_000).unref();
        close().catch((err: unknown) => {
          logger.fatal({ err }, "shutdown failed");
          process.exitCode = 1;
        });
      });
    }
    return { url, address, store, blobs, runner, close, closed };
  } catch (err) {
    await teardown.run(logger);
    throw err;
  }
}
