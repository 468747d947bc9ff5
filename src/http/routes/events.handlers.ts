import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../context.ts";
import { auditEventStream } from "../sse.ts";
import { streamOf } from "../streaming.ts";
import { findAudit } from "./audits.handlers.ts";
import type { getEvents } from "./events.routes.ts";

export const stream: RouteHandler<typeof getEvents, AppEnv> = async (c) => {
  const s = c.var.services;
  const tenant = c.var.tenant;
  const audit = await findAudit(s, tenant, c.req.valid("param").id);
  const resumeFrom = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").lastEventId ?? "0";
  const body = streamOf(
    (clientGone) =>
      auditEventStream({
        store: s.store,
        notifier: s.notifier,
        tenant,
        auditId: audit.id,
        afterSeq: Number(resumeFrom),
        heartbeatMs: s.config.sseHeartbeatMs,
        pollMs: s.config.ssePollMs,
        signal: AbortSignal.any([clientGone, s.shutdown]),
      }),
    s.logger,
    { reqId: c.var.requestId, auditId: audit.id },
  );
  return c.body(body, 200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    // Proxies (nginx) must not buffer the stream.
    "X-Accel-Buffering": "no",
  });
};
