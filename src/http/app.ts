/**
 * The app factory: the whole HTTP API as a value built from its dependencies. server.ts serves it;
 * tests build one per test against temporary stores. Installed here, in order: services + request
 * id + wide log line, load shedding and bearer auth for /v1, the routes, and the problem+json
 * handlers for errors and unknown routes.
 */
import type { OutboxDispatcher } from "../outbox/dispatcher.ts";
import type { MiddlewareHandler } from "hono";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "pino";
import { AuditService } from "../audits/audit-service.ts";
import type { Config } from "../config.ts";
import { AuditNotifier } from "../jobs/notifier.ts";
import type { JobRunner } from "../jobs/types.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { Store } from "../store/types.ts";
import { authenticate } from "./auth.ts";
import type { AppEnv, AppServices } from "./context.ts";
import { EventLoopMonitor, type EventLoopLagSource } from "./event-loop.ts";
import { AuditDurations, HttpMetrics } from "./metrics.ts";
import { openApiDocument, registerSecuritySchemes, type OpenApiDocument } from "./openapi.ts";
import { HttpProblemError, defaultHook, notFound, onError } from "./problem-response.ts";
import { RenderedReportCache } from "./report-cache.ts";
import { requestContext } from "./request-context.ts";
import { responseHeaders } from "./response-headers.ts";
import { mountRoutes } from "./routes/index.ts";
import { UploadSlots } from "./upload-slots.ts";

export interface AppDeps {
  config: Config;
  store: Store;
  /** Shared with the runner (default: one of this app's own, waking this app's SSE streams). */
  audits?: AuditService;
  blobs: BlobStore;
  runner: JobRunner;
  logger: Logger;
  /** Share the runner's notifier so SSE streams wake on new events (else they poll). */
  notifier?: AuditNotifier;
  /** Aborted at shutdown: open SSE streams end so the server can close. */
  shutdown?: AbortSignal;
  /** The lag that load shedding and readiness read (default: a monitor of this process's loop). */
  eventLoop?: EventLoopLagSource;
  /** The outbox dispatcher, woken when a callback or write-back is written. */
  outbox?: Pick<OutboxDispatcher, "wake">;
  /** Fed by the AuditService of this process (default: this app's own, fed by its default service). */
  auditDurations?: AuditDurations;
}

/** 503 for API calls while the event loop lags past SSLMEM_SHED_LAG_MS (health stays answered). */
function shedWhenLagging(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, eventLoop } = c.var.services;
    const limitMs = config.limits.shedEventLoopLagMs;
    if (limitMs > 0 && eventLoop.lag().p99 * 1000 > limitMs) {
      throw new HttpProblemError("unavailable", "the server is overloaded", { "Retry-After": "1" });
    }
    await next();
  };
}

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  return createAppFor(buildAppServices(deps));
}

/** The services of one app, for a server that also hands them to background work (watch polling). */
export function buildAppServices(deps: AppDeps): AppServices {
  const notifier = deps.notifier ?? new AuditNotifier();
  const auditDurations = deps.auditDurations ?? new AuditDurations();
  const services: AppServices = {
    config: deps.config,
    store: deps.store,
    audits:
      deps.audits ??
      new AuditService({ store: deps.store, logger: deps.logger, onEvent: (id) => notifier.notify(id), onFinished: (outcome, s) => auditDurations.observe(outcome, s) }),
    blobs: deps.blobs,
    runner: deps.runner,
    logger: deps.logger,
    notifier,
    metrics: new HttpMetrics(),
    auditDurations,
    eventLoop: deps.eventLoop ?? new EventLoopMonitor(),
    uploads: new UploadSlots(deps.config.limits.maxConcurrentUploadsPerTenant),
    reports: new RenderedReportCache({
      maxBytes: deps.config.limits.reportCacheBytes,
      maxConcurrentRenders: deps.config.limits.maxConcurrentReportRenders,
      busy: () => new HttpProblemError("rate_limited", "other reports are being rendered; retry in a moment", { "Retry-After": "1" }),
    }),
    shutdown: deps.shutdown ?? new AbortController().signal,
    ...(deps.outbox ? { outbox: deps.outbox } : {}),
  };
  return services;
}

export function createAppFor(services: AppServices): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  app.use(requestContext(services));
  app.use(responseHeaders());
  app.use("/v1/*", shedWhenLagging());
  app.use("/v1/*", authenticate());
  registerSecuritySchemes(app);
  let document: OpenApiDocument | undefined;
  mountRoutes(app, () => (document ??= openApiDocument(app)));
  app.notFound(notFound);
  app.onError(onError);
  return app;
}
