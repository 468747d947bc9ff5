/**
 * One CSV row per point (candidates and controls), RFC 4180: comma-separated, CRLF line ends,
 * fields with `"`, `,`, CR or LF quoted with `"` doubled. Numbers are written in full precision
 * (JavaScript's shortest round-trip form) so the CSV carries the same values as the JSON.
 *
 * Point ids are file names chosen by whoever uploaded the data. A cell starting with = + - @
 * (or tab/CR) runs as a formula when the file is opened in a spreadsheet (CSV injection), so
 * such ids get a leading apostrophe, as OWASP recommends; the JSON report keeps the exact id.
 * `csvHeader` and `csvRow` let the HTTP layer stream rows without building the whole text.
 */
import type { ReportPoint } from "../core/report.ts";

export const CSV_REPORT_COLUMNS = [
  "id",
  "role",
  "alignTarget",
  "alignReference",
  "score",
  "stdErr",
  "scoreNormalized",
  "pValue",
  "flagged",
] as const satisfies readonly (keyof ReportPoint)[];

const FORMULA_PREFIX = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field: text is formula-neutralised and quoted where needed; an absent value is empty. */
export function csvField(value: string | number | boolean | undefined): string {
  if (value === undefined) return "";
  if (typeof value !== "string") return String(value);
  const text = FORMULA_PREFIX.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return CSV_REPORT_COLUMNS.join(",") + "\r\n";
}

export function csvRow(point: ReportPoint): string {
  return CSV_REPORT_COLUMNS.map((c) => csvField(point[c])).join(",") + "\r\n";
}

export function renderCsv(points: readonly ReportPoint[]): string {
  const rows = [csvHeader()];
  for (const p of points) rows.push(csvRow(p));
  return rows.join("");
}
