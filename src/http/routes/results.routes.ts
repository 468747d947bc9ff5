/** Contract of the per-point results download. */
import { createRoute, z } from "@hono/zod-openapi";
import { RESULT_FORMATS } from "../results-format.ts";
import { AuditIdParams, BearerSecurity, ResultPageSchema, UnitResultPageSchema, problemResponses } from "../schemas.ts";

export const ResultsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: "Rows per page (JSON only)." }),
  cursor: z.string().min(1).max(64).optional().openapi({ description: "nextCursor of the previous page (JSON only)." }),
  flagged: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true")
    .openapi({ description: "Only flagged points." }),
  role: z.enum(["candidate", "control"]).optional(),
  layers: z
    .string()
    .min(1)
    .max(8192)
    .optional()
    .openapi({
      description:
        "LayerMem audits: `all`, or layer names separated by commas (GET /v1/audits/{id} lists them). Each row then carries `layers`: its score on those layers, in the encoder's order (CSV: `layer:NAME:score` columns and their siblings). An unknown name: 400 `validation_failed`.",
    }),
  order: z
    .enum(["index", "unitMem"])
    .optional()
    .openapi({ description: "UnitMem audits: `index` (default) or `unitMem` (the most selective units first)." }),
  layer: z.string().min(1).max(256).optional().openapi({ description: "UnitMem audits: only this layer's units." }),
  format: z.enum(RESULT_FORMATS).optional().openapi({ description: "Overrides the Accept header." }),
});

export const getResults = createRoute({
  method: "get",
  path: "/v1/audits/{id}/results",
  tags: ["results"],
  summary: "Per-point scores and flags",
  description:
    "`application/json`: one page (`limit`, `cursor`). `application/x-ndjson` and `text/csv`: every matching row, " +
    "streamed. Choose with Accept or `?format=`. Rows of a running audit appear as batches commit; " +
    "`scoreNormalized`, `pValue` and `flagged` appear when it succeeded. A UnitMem audit's rows are its units " +
    "(UnitResult: layer, unit, UnitMem, the point it is most selective for, μ_max, μ_−max), written when it succeeds; " +
    "`order` and `layer` apply to them, `flagged` and `role` do not.",
  security: BearerSecurity,
  request: { params: AuditIdParams, query: ResultsQuery },
  responses: {
    200: {
      description: "Results.",
      content: {
        "application/json": { schema: z.union([ResultPageSchema, UnitResultPageSchema]) },
        "application/x-ndjson": { schema: { type: "string" as const, description: "One ResultRow (UnitResult for a UnitMem audit) JSON object per line." } },
        "text/csv": { schema: { type: "string" as const, description: "Header row, then one row per point." } },
      },
    },
    ...problemResponses(400, 401, 404, 406, 500),
  },
});
