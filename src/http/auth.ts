/**
 * Bearer-token authentication for /v1. The token is looked up by its hash (the store compares in
 * constant time) and never logged. SSLMEM_AUTH=disabled makes every request the tenant "local":
 * for a laptop only, and the server says so in its log at start.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { HttpProblemError } from "./problem-response.ts";

export const LOCAL_TENANT = "local";

export const HOOKS_PREFIX = "/v1/hooks/";

const BEARER = /^Bearer +([^\s]+) *$/i;

export function authenticate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // Registry webhooks carry no bearer token: each proves itself with its watch's secret (hooks.handlers.ts).
    if (c.req.path.startsWith(HOOKS_PREFIX)) return next();
    const { config, store } = c.var.services;
    if (config.auth === "disabled") {
      c.set("tenant", LOCAL_TENANT);
      return next();
    }
    const header = c.req.header("authorization");
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match) {
      throw new HttpProblemError("unauthorized", "this endpoint needs an `Authorization: Bearer <token>` header", {
        "WWW-Authenticate": 'Bearer realm="sslmem"',
      });
    }
    const principal = await store.authenticate(match[1]);
    if (!principal) {
      throw new HttpProblemError("unauthorized", "the bearer token is not valid (unknown or revoked); create one with `sslmem token create`", {
        "WWW-Authenticate": 'Bearer realm="sslmem", error="invalid_token"',
      });
    }
    c.set("tenant", principal.tenant);
    await next();
  };
}
