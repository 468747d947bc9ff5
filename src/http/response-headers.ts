/**
 * Headers every response gets on the way out: `X-Content-Type-Options: nosniff` (a browser must
 * not guess that an uploaded point id or a CSV is HTML and run it) everywhere, and
 * `Cache-Control: no-store` on tenant data (everything under /v1: audits, results, reports,
 * events, blobs), so no shared cache or browser history keeps another tenant's results. A
 * handler that sets its own Cache-Control keeps it.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";

export function responseHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (c.req.path.startsWith("/v1/") && !c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  };
}
