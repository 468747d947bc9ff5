/**
 * One CSV row per point (candidates and controls), RFC 4180: comma-separated, CRLF line ends,
 * fields with `"`, `,`, `;`, tab, CR or LF quoted with `"` doubled. Numbers are written in full precision
 * (JavaScript's shortest round-trip form) so the CSV carries the same values as the JSON.
 *
 * Point ids are file names chosen by whoever uploaded the data. A cell starting with = + - @
 * (or tab/CR) runs as a formula when the file is opened in a spreadsheet (CSV injection), so
 * such ids get a leading apostrophe, as OWASP recommends; the JSON report keeps the exact id.
 * `csvHeader` and `csvRow` let the HTTP layer stream rows without building the whole text.
 */
import type { ReportPoint } from "../core/report.ts";

/** What the engine measures for a point, then what the audit's finalization adds. */
export const MEASURED_COLUMNS = ["id", "role", "alignTarget", "alignReference", "score", "stdErr"] as const;
export const FINALIZED_COLUMNS = ["scoreNormalized", "pValue", "flagged"] as const;

export const CSV_REPORT_COLUMNS = [...MEASURED_COLUMNS, ...FINALIZED_COLUMNS] as const satisfies readonly (keyof ReportPoint)[];

// A cell a spreadsheet would evaluate: = + - @ start a formula; tab, CR and LF let one hide
// behind whitespace (and a full-width ＝ is read as = by some).
const FORMULA_PREFIX = /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/;
// Quoted whenever a spreadsheet could split the field: the RFC 4180 set (" , CR LF) plus the
// separators of other locales and of import dialogs (; and tab).
const NEEDS_QUOTES = /[",;\t\r\n]/;

/**
 * The one CSV field escaper (the report's CSV and the results endpoint's CSV both use it): text
 * is formula-neutralised and quoted where needed; numbers and booleans are written as they are;
 * an absent value is empty.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") return String(value);
  const text = FORMULA_PREFIX.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

type CsvValue = Parameters<typeof csvField>[0];

/** One CSV record (CRLF-terminated): the `columns` of `row`, each through csvField. */
export function csvRecord<K extends string>(columns: readonly K[], row: Readonly<Partial<Record<K, CsvValue>>>): string {
  return columns.map((c) => csvField(row[c])).join(",") + "\r\n";
}

export function csvHeader(): string {
  return CSV_REPORT_COLUMNS.join(",") + "\r\n";
}

export function csvRow(point: ReportPoint): string {
  return csvRecord(CSV_REPORT_COLUMNS, point);
}

export function renderCsv(points: readonly ReportPoint[]): string {
  const rows = [csvHeader()];
  for (const p of points) rows.push(csvRow(p));
  return rows.join("");
}
