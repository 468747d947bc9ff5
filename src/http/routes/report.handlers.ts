import type { RouteHandler } from "@hono/zod-openapi";
import { performance } from "node:perf_hooks";
import { dataDirLayout } from "../../store/data-dir.ts";
import { SslmemError } from "../../core/errors.ts";
import { RenderedReportCache } from "../report-cache.ts";
import { candidateThumbnails, pointThumbnails } from "../report-thumbnails.ts";
import { negotiateUnitMemFormat, renderUnitMemAuditReport } from "../unitmem-report-render.ts";
import type { AppEnv } from "../context.ts";
import { REPORT_MEDIA_TYPES, renderAuditReport } from "../report-render.ts";
import { negotiate } from "../results-format.ts";
import { findAudit } from "./audits.handlers.ts";
import type { getReport } from "./report.routes.ts";

export const get: RouteHandler<typeof getReport, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  const explicit = c.req.valid("query").format;
  // A UnitMem audit has its own report (sslmem.unitmem/v1) and only the formats that apply to it.
  const wanted =
    audit.kind === "unitmem"
      ? ({ kind: "unitmem", format: negotiateUnitMemFormat(explicit, c.req.header("accept")) } as const)
      : ({ kind: "sslmem", format: negotiate(explicit, c.req.header("accept"), REPORT_MEDIA_TYPES, "json") } as const);
  const format = wanted.format;
  if (audit.state !== "succeeded") {
    const why = audit.state === "queued" || audit.state === "running" ? `it is still ${audit.state}` : `it ${audit.state}`;
    throw new SslmemError("audit_not_finished", `the report exists once the audit succeeded; ${why}`, { state: audit.state });
  }
  const thumbnailDeps = { blobs: s.blobs, ingest: s.config.ingest, tmpDir: dataDirLayout(s.config.dataDir).tmp, logger: s.logger };
  const report = await s.reports.get(RenderedReportCache.key(audit, format), async () => {
    const started = performance.now();
    const rendered =
      wanted.kind === "unitmem"
        ? await renderUnitMemAuditReport(audit, wanted.format, (ids) => pointThumbnails(audit, ids, thumbnailDeps))
        : await renderAuditReport(s.store, audit, wanted.format, (r) => candidateThumbnails(audit, r, thumbnailDeps));
    s.logger.debug({ auditId: audit.id, format, ms: Math.round(performance.now() - started) }, "report rendered");
    return rendered;
  });
  return c.body(report.body, 200, { "Content-Type": report.contentType, ...report.headers });
};
