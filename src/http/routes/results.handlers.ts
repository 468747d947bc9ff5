/** Results: a JSON page, or every row streamed as NDJSON / CSV straight from the store. */
import type { RouteHandler } from "@hono/zod-openapi";
import type { StoredResult } from "../../store/types.ts";
import type { AppEnv } from "../context.ts";
import { selectLayers, withLayerColumns, type LayerColumns } from "../result-layers.ts";
import { RESULT_CONTENT_TYPES, RESULT_MEDIA_TYPES, csvHeader, csvLine, ndjsonLine, negotiate } from "../results-format.ts";
import { batched, streamOf } from "../streaming.ts";
import { findAudit } from "./audits.handlers.ts";
import type { getResults } from "./results.routes.ts";

async function* lines(rows: AsyncIterable<StoredResult>, header: string, line: (r: StoredResult) => string, signal: AbortSignal) {
  if (header) yield header;
  for await (const row of rows) {
    if (signal.aborted) return;
    yield line(row);
  }
}

export const list: RouteHandler<typeof getResults, AppEnv> = async (c) => {
  const s = c.var.services;
  const audit = await findAudit(s, c.var.tenant, c.req.valid("param").id);
  const q = c.req.valid("query");
  const format = negotiate(q.format, c.req.header("accept"), RESULT_MEDIA_TYPES, "json");
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
