/** Contracts of the public operational endpoints: probes and metrics. */
import { createRoute, z } from "@hono/zod-openapi";

const ProbeResultSchema = z
  .object({
    name: z.string(),
    critical: z.boolean(),
    status: z.enum(["pass", "fail"]),
    durationMs: z.number(),
    detail: z.string().optional(),
  })
  .openapi("ProbeResult");

export const ReadinessSchema = z
  .object({ status: z.enum(["pass", "fail"]), checks: z.array(ProbeResultSchema) })
  .openapi("Readiness");

export const livez = createRoute({
  method: "get",
  path: "/livez",
  tags: ["operations"],
  summary: "Liveness: the process answers",
  responses: {
    200: { description: "Alive.", content: { "application/json": { schema: z.object({ status: z.literal("pass") }) } } },
  },
});

export const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["operations"],
  summary: "Readiness: store writable, runner alive, not shutting down",
  responses: {
    200: { description: "Ready.", content: { "application/json": { schema: ReadinessSchema } } },
    503: { description: "Not ready; `checks` says which critical probe failed.", content: { "application/json": { schema: ReadinessSchema } } },
  },
});

export const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Prometheus metrics",
  responses: {
    200: {
      description: "Prometheus text exposition format 0.0.4.",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});
