/**
 * The one table of output formats: media type (what Accept names), the Content-Type sent (with
 * its charset) and the file extension. The report renderers, the report and results endpoints
 * and the CLI's `-o` all read it.
 */
export const OUTPUT_FORMAT_TYPES = {
  json: { mediaType: "application/json", contentType: "application/json", extension: "json" },
  ndjson: { mediaType: "application/x-ndjson", contentType: "application/x-ndjson", extension: "ndjson" },
  html: { mediaType: "text/html", contentType: "text/html; charset=utf-8", extension: "html" },
  junit: { mediaType: "application/xml", contentType: "application/xml", extension: "xml" },
  sarif: { mediaType: "application/sarif+json", contentType: "application/sarif+json", extension: "sarif" },
  csv: { mediaType: "text/csv", contentType: "text/csv; charset=utf-8", extension: "csv" },
  table: { mediaType: "text/plain", contentType: "text/plain", extension: "txt" },
  markdown: { mediaType: "text/markdown", contentType: "text/markdown; charset=utf-8", extension: "md" },
  codequality: { mediaType: "application/json", contentType: "application/json", extension: "json" },
} as const satisfies Record<string, { mediaType: string; contentType: string; extension: string }>;

export type OutputFormat = keyof typeof OUTPUT_FORMAT_TYPES;

/** `{format: field}` for the given formats, e.g. their media types for content negotiation. */
export function formatTable<F extends OutputFormat, K extends "mediaType" | "contentType" | "extension">(
  formats: readonly F[],
  field: K,
): Readonly<Record<F, string>> {
  const out: Partial<Record<F, string>> = {};
  for (const f of formats) out[f] = OUTPUT_FORMAT_TYPES[f][field];
  return out as Record<F, string>;
}
