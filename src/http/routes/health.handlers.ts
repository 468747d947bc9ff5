import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../context.ts";
import { runProbes } from "../../process/health.ts";
import { readinessProbes } from "../readiness.ts";
import { renderPrometheus } from "../metrics.ts";
import type { livez, metrics, readyz } from "./health.routes.ts";

export const live: RouteHandler<typeof livez, AppEnv> = (c) => c.json({ status: "pass" as const }, 200);

export const ready: RouteHandler<typeof readyz, AppEnv> = async (c) => {
  const s = c.var.services;
  const readiness = await runProbes(readinessProbes(s), s.logger);
  return readiness.status === "pass" ? c.json(readiness, 200) : c.json(readiness, 503);
};

export const prometheus: RouteHandler<typeof metrics, AppEnv> = async (c) => {
  const s = c.var.services;
  const queueJobs = s.runner.jobCounts?.();
  const text = renderPrometheus({
    http: s.metrics,
    auditDurations: s.auditDurations,
    auditsByState: await s.store.countAuditsByState(),
    throughput: s.runner.throughput(),
    queueDepth: s.runner.queueDepth(),
    ...(queueJobs ? { queueJobs } : {}),
    eventLoopLag: s.eventLoop.lag(),
  });
  return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" });
};
