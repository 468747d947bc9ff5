/** Contract of the audit report. */
import { createRoute, z } from "@hono/zod-openapi";
import { REPORT_FORMATS } from "../report-render.ts";
import { AuditIdParams, BearerSecurity, problemResponses } from "../schemas.ts";

const text = (description: string) => ({ schema: { type: "string" as const, description } });

export const getReport = createRoute({
  method: "get",
  path: "/v1/audits/{id}/report",
  tags: ["results"],
  summary: "The report of a succeeded audit",
  description: "Choose the format with Accept or `?format=`: json (report v1), html (self-contained page), junit, sarif, csv.",
  security: BearerSecurity,
  request: {
    params: AuditIdParams,
    query: z.object({ format: z.enum(REPORT_FORMATS).optional().openapi({ description: "Overrides the Accept header." }) }),
  },
  responses: {
    200: {
      description: "The report.",
      content: {
        "application/json": { schema: z.record(z.string(), z.unknown()).openapi({ description: "Report v1 (schemas/)." }) },
        "text/html": text("Self-contained HTML page."),
        "application/xml": text("JUnit XML: one failing testcase per flagged point."),
        "application/sarif+json": text("SARIF 2.1.0."),
        "text/csv": text("Per-point CSV."),
      },
    },
    ...problemResponses(400, 401, 404, 406, 409, 500),
  },
});
