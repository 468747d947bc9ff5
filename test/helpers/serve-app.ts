/**
 * The part every in-process test server shares: the in-process runner around an executor, the
 * app on 127.0.0.1:0, two tenants' tokens, and an orderly close. test/http/harness.ts (with a
 * TestExecutor) and test/helpers/engine-server.ts (with the real engine) build on it.
 */
import { registryIntegration } from "../../src/registry-integration.ts";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { Logger } from "pino";
import type { Config } from "../../src/config.ts";
import { buildAppServices, createAppFor } from "../../src/http/app.ts";
import { EventLoopMonitor, type EventLoopLagSource } from "../../src/http/event-loop.ts";
import { InProcessRunner } from "../../src/jobs/in-process-runner.ts";
import { AuditNotifier } from "../../src/jobs/notifier.ts";
import type { AuditExecutor } from "../../src/jobs/types.ts";
import type { FileBlobStore } from "../../src/store/blob-store.ts";
import type { Store } from "../../src/store/types.ts";
import { AuditService } from "../../src/audits/audit-service.ts";
import { AuditDurations } from "../../src/http/metrics.ts";

export interface ServedApp {
  url: string;
  runner: InProcessRunner;
  notifier: AuditNotifier;
  tokens: { alice: string; bob: string };
  /** Stops the HTTP server and the runner (not the store: its owner closes it). */
  stop(): Promise<void>;
}

export async function serveApp(deps: {
  config: Config;
  /** The store the runner and app use (possibly a fault-injecting wrapper). */
  store: Store;
  /** The real store, for tokens. */
  tokenStore: Store;
  blobs: FileBlobStore;
  executor: AuditExecutor;
  logger: Logger;
  startRunner?: boolean;
  /** The lag the app sees (default: a monitor of this process's event loop). */
  eventLoop?: EventLoopLagSource;
}): Promise<ServedApp> {
  const { config, store, blobs, executor, logger } = deps;
  const notifier = new AuditNotifier();
  const auditDurations = new AuditDurations();
  const audits = new AuditService({ store, logger, onEvent: (id) => notifier.notify(id), onFinished: (outcome, s) => auditDurations.observe(outcome, s) });
  const runner = new InProcessRunner({ audits, store, executor, logger, cancelWaitMs: 5_000 });
  if (deps.startRunner ?? true) await runner.start();
  const shutdown = new AbortController();
  const monitor = deps.eventLoop ? undefined : new EventLoopMonitor();
  const eventLoop = deps.eventLoop ?? monitor!;
  const integration = registryIntegration({ config, store, blobs, logger });
  const services = buildAppServices({ config, store, audits, blobs, runner, logger, notifier, shutdown: shutdown.signal, eventLoop, outbox: integration.outbox, auditDurations });
  const app = createAppFor(services);
  integration.start(services);
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }) as Server;
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokens = { alice: (await deps.tokenStore.createToken("alice")).token, bob: (await deps.tokenStore.createToken("bob")).token };
  return {
    url,
    runner,
    notifier,
    tokens,
    async stop() {
      shutdown.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runner.stop({ graceMs: 5_000 });
      await integration.stop();
      monitor?.stop();
    },
  };
}

/** fetch against `url` with alice's token by default; `token: null` sends none. */
export function bearerFetch(url: string, tokens: { alice: string }) {
  return (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    const bearer = token === undefined ? tokens.alice : token;
    if (bearer !== null) headers.set("authorization", `Bearer ${bearer}`);
    return fetch(url + path, { ...rest, headers });
  };
}
