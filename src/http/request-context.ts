/**
 * Per-request plumbing installed first: services on the context, the request id (X-Request-Id in
 * and out), and on the way out one wide log line and one latency observation per request.
 * The log line never holds headers (tokens), bodies or query strings (cursors), only the path.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv, AppServices } from "./context.ts";

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Anything shaped like one of our tokens (a client that put its token in the URL by mistake). */
const TOKEN_LIKE = /sslm_[A-Za-z0-9_-]{8,}/g;

/** The path as logged: token-shaped segments redacted (the log must never hold a credential). */
export function loggablePath(path: string): string {
  return path.replace(TOKEN_LIKE, "sslm_[redacted]");
}

/** Hono's route pattern → the label used in metrics and logs (`/v1/audits/{id}`). */
export function routeLabel(pattern: string): string {
  if (pattern === "" || pattern.endsWith("*")) return "unmatched";
  const cancel = pattern.includes(":cancel}") ? ":cancel" : "";
  return pattern.replace(/:([A-Za-z_]+)(\{[^/]*\})?/g, "{$1}").replace(/\{idAction\}/, "{id}") + cancel;
}

export function requestContext(services: AppServices): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    c.set("services", services);
    const given = c.req.header("x-request-id");
    // A client's id is echoed and logged: never one that looks like a token.
    const requestId = given !== undefined && CLIENT_REQUEST_ID.test(given) && !given.includes("sslm_") ? given : randomUUID();
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    const status = c.res.status;
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(routePath(c, -1));
    services.metrics.observe({ method: c.req.method, route, status }, seconds);
    const line = {
      reqId: requestId,
      method: c.req.method,
      path: loggablePath(c.req.path),
      route,
      status,
      durationMs: Math.round(seconds * 1e4) / 10,
      tenant: c.var.tenant,
      code: c.var.problemCode,
      err: c.var.failure,
    };
    if (status >= 500) services.logger.error(line, "request failed");
    else services.logger.info(line, "request");
  };
}
