/** Results: a JSON page, or every row streamed as NDJSON / CSV straight from the store. */
import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import { validationError } from "../../core/problem.ts";
import type { AuditRecord, StoredResult } from "../../store/types.ts";
import type { AppEnv } from "../context.ts";
import { selectLayers, withLayerColumns, type LayerColumns } from "../result-layers.ts";
import { RESULT_CONTENT_TYPES, RESULT_MEDIA_TYPES, csvHeader, csvLine, ndjsonLine, negotiate, type ResultFormat } from "../results-format.ts";
import { UNIT_ORDERS, allUnitRows, unitCsvHeader, unitCsvLine, unitNdjsonLine } from "../unit-results-format.ts";
import { batched, streamOf } from "../streaming.ts";
import { findAudit } from "./audits.handlers.ts";
import type { getResults } from "./results.routes.ts";

async function* lines<R>(rows: AsyncIterable<R>, header: string, line: (r: R) => string, signal: AbortSignal) {
  if (header) yield header;
  for await (const row of rows) {
    if (signal.aborted) return;
    yield line(row);
  }
}

/** A query parameter that does not apply to this kind of audit: a 400 naming it. */
function notForKind(present: readonly (string | false)[], kind: string): void {
  const given = present.filter((p): p is string => p !== false);
  if (given.length === 0) return;
  throw validationError(`${given.join(", ")} ${given.length > 1 ? "do" : "does"} not apply to the results of a ${kind} audit`, given.map((path) => ({ path, message: `not a parameter of ${kind} results`, location: "query" })));
}

/** A UnitMem audit's rows are its units (unit-results-format.ts). */
function unitResults(c: Context<AppEnv>, audit: AuditRecord, q: UnitQuery, format: ResultFormat): Promise<Response> | Response {
  const s = c.var.services;
  const options = { order: UNIT_ORDERS[q.order ?? "index"], ...(q.layer !== undefined ? { layer: q.layer } : {}) };
  if (format === "json") return s.store.readUnitResults(audit.id, { ...options, limit: q.limit, cursor: q.cursor ?? null }).then((page) => c.json(page, 200));
  const csv = format === "csv";
  const body = streamOf((signal) => batched(lines(allUnitRows(s.store, audit.id, options), csv ? unitCsvHeader() : "", csv ? unitCsvLine : unitNdjsonLine, signal)), s.logger, {
    reqId: c.var.requestId,
    auditId: audit.id,
  });
  return c.body(body, 200, {
    "Content-Type": RESULT_CONTENT_TYPES[format],
    ...(csv ? { "Content-Disposition": `attachment; filename="${audit.id}-units.csv"` } : {}),
    "Cache-Control": "no-store",
  });
}

interface UnitQuery {
  limit: number;
  cursor?: string;
  order?: "index" | "unitMem";
  layer?: string;
}

export const list: RouteHandler<typeof getResults, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  const q = c.req.valid("query");
  const format = negotiate(q.format, c.req.header("accept"), RESULT_MEDIA_TYPES, "json");
  // `flagged` is a boolean once parsed (absent = false): its presence is read from the raw query.
  const raw = (name: string) => c.req.query(name) !== undefined && name;
  if (audit.kind === "unitmem") {
    notForKind([raw("flagged"), raw("role"), raw("layers")], "UnitMem");
    return unitResults(c, audit, q, format);
  }
  notForKind([raw("order"), raw("layer")], "SSLMem");
  const layers: LayerColumns | undefined =
    q.layers === undefined ? undefined : selectLayers(q.layers, await s.store.auditLayers(audit.id), audit.config.layers !== undefined);
  const filter = { flaggedOnly: q.flagged, ...(q.role ? { role: q.role } : {}), layers: layers !== undefined };
  if (format === "json") {
    const page = await s.store.readResults(audit.id, { ...filter, limit: q.limit, cursor: q.cursor ?? null });
    return c.json({ items: page.items.map((r) => withLayerColumns(r, layers)), nextCursor: page.nextCursor }, 200);
  }
  const csv = format === "csv";
  const line = csv ? (r: StoredResult) => csvLine(r, layers) : (r: StoredResult) => ndjsonLine(r, layers);
  const body = streamOf(
    (signal) => batched(lines(s.store.iterateResults(audit.id, filter), csv ? csvHeader(layers) : "", line, signal)),
    s.logger,
    { reqId: c.var.requestId, auditId: audit.id },
  );
  return c.body(body, 200, {
    "Content-Type": RESULT_CONTENT_TYPES[format],
    ...(csv ? { "Content-Disposition": `attachment; filename="${audit.id}-results.csv"` } : {}),
    "Cache-Control": "no-store",
  });
};
