/** Contract of the audit event stream (SSE). */
import { createRoute, z } from "@hono/zod-openapi";
import { AuditIdParams, BearerSecurity, problemResponses } from "../schemas.ts";

const seq = z.string().regex(/^\d{1,15}$/, "must be an event id (a non-negative integer)");

export const getEvents = createRoute({
  method: "get",
  path: "/v1/audits/{id}/events",
  tags: ["audits"],
  summary: "Follow an audit (Server-Sent Events)",
  description:
    "Events `state` (data.state; the stream ends after a terminal state), `progress` (stage, done, total, " +
    "etaSeconds) and engine events. Every event has an `id:`; reconnect with `Last-Event-ID` (or `?lastEventId=`) " +
    "to resume after it. Comments (`: keep-alive`) are sent while nothing happens.",
  security: BearerSecurity,
  request: {
    params: AuditIdParams,
    headers: z.object({
      "last-event-id": seq.optional().openapi({ description: "Resume after this event id (sent by EventSource)." }),
    }),
    query: z.object({ lastEventId: seq.optional() }),
  },
  responses: {
    200: {
      description: "The event stream.",
      content: { "text/event-stream": { schema: { type: "string" as const, description: "SSE frames." } } },
    },
    ...problemResponses(400, 401, 404, 500),
  },
});
