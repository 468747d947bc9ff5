/**
 * Result rows as NDJSON and CSV, and the negotiation between them and paginated JSON.
 */
import { SslmemError } from "../core/errors.ts";
import { FINALIZED_COLUMNS, MEASURED_COLUMNS, csvField, csvRecord } from "../report/csv.ts";
import { formatTable } from "../report/media-types.ts";
import type { StoredResult } from "../store/types.ts";
import { layerCsvCells, layerCsvHeader, withLayerColumns, type LayerColumns } from "./result-layers.ts";

export { csvField };

export const RESULT_FORMATS = ["json", "ndjson", "csv"] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export const RESULT_MEDIA_TYPES: Readonly<Record<ResultFormat, string>> = formatTable(RESULT_FORMATS, "mediaType");
/** Content-Type of each streamed format. */
export const RESULT_CONTENT_TYPES: Readonly<Record<ResultFormat, string>> = formatTable(RESULT_FORMATS, "contentType");

export const CSV_COLUMNS = ["index", ...MEASURED_COLUMNS, "pairs", ...FINALIZED_COLUMNS] as const satisfies readonly (keyof StoredResult)[];

/** Parses an Accept header into media ranges ordered by preference (q, then specificity). */
export function acceptedMediaTypes(accept: string | undefined): string[] {
  if (!accept) return ["*/*"];
  return accept
    .split(",")
    .map((part, order) => {
      const [type, ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)).find(Boolean);
      return { type: type.trim().toLowerCase(), q: q ? Number(q[1]) : 1, order };
    })
    .filter((r) => r.type !== "" && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order)
    .map((r) => r.type);
}

/**
 * Picks a format: `?format=` wins, then the first Accept range this endpoint can produce.
 * `not_acceptable` when Accept names only types it cannot.
 */
export function negotiate<F extends string>(
  explicit: F | undefined,
  accept: string | undefined,
  mediaTypes: Readonly<Record<F, string>>,
  fallback: F,
): F {
  if (explicit !== undefined) return explicit;
  const formats = Object.keys(mediaTypes) as F[];
  for (const range of acceptedMediaTypes(accept)) {
    if (range === "*/*") return fallback;
    const exact = formats.find((f) => mediaTypes[f] === range);
    if (exact) return exact;
    if (range.endsWith("/*")) {
      const prefix = range.slice(0, -1);
      const match = formats.find((f) => mediaTypes[f].startsWith(prefix));
      if (match) return match;
    }
  }
  throw new SslmemError(
    "not_acceptable",
    `this endpoint produces ${formats.map((f) => mediaTypes[f]).join(", ")}; use one of them in Accept or ?format=`,
  );
}

/** `layers`: the `?layers=` selection (LayerMem), the same columns in every format. */
export function ndjsonLine(row: StoredResult, layers?: LayerColumns): string {
  return JSON.stringify(withLayerColumns(row, layers)) + "\n";
}

export function csvHeader(layers?: LayerColumns): string {
  return [...CSV_COLUMNS, ...(layers ? layerCsvHeader(layers) : [])].join(",") + "\r\n";
}

export function csvLine(row: StoredResult, layers?: LayerColumns): string {
  const line = csvRecord(CSV_COLUMNS, row);
  return layers ? `${line.slice(0, -2)}${layerCsvCells(row, layers).map((c) => "," + c).join("")}\r\n` : line;
}
