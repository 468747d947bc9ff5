import type { RouteHandler } from "@hono/zod-openapi";
import { performance } from "node:perf_hooks";
import { dataDirLayout } from "../../store/data-dir.ts";
import { SslmemError } from "../../core/errors.ts";
import { RenderedReportCache } from "../report-cache.ts";
import { candidateThumbnails } from "../report-thumbnails.ts";
import type { AppEnv } from "../context.ts";
import { REPORT_MEDIA_TYPES, renderAuditReport } from "../report-render.ts";
import { negotiate } from "../results-format.ts";
import { findAudit } from "./audits.handlers.ts";
import type { getReport } from "./report.routes.ts";

export const get: RouteHandler<typeof getReport, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  const format = negotiate(c.req.valid("query").format, c.req.header("accept"), REPORT_MEDIA_TYPES, "json");
  if (audit.state !== "succeeded") {
    const why = audit.state === "queued" || audit.state === "running" ? `it is still ${audit.state}` : `it ${audit.state}`;
    throw new SslmemError("audit_not_finished", `the report exists once the audit succeeded; ${why}`, { state: audit.state });
  }
  const report = await s.reports.get(RenderedReportCache.key(audit, format), async () => {
    const started = performance.now();
    const rendered = await renderAuditReport(s.store, audit, format, (r) =>
      candidateThumbnails(audit, r, { blobs: s.blobs, ingest: s.config.ingest, tmpDir: dataDirLayout(s.config.dataDir).tmp, logger: s.logger }),
    );
    s.logger.debug({ auditId: audit.id, format, ms: Math.round(performance.now() - started) }, "report rendered");
    return rendered;
  });
  return c.body(report.body, 200, { "Content-Type": report.contentType, ...report.headers });
};
