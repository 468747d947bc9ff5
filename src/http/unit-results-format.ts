/**
 * A UnitMem audit's per-unit rows on the results endpoint: one JSON page (index order, or the
 * most selective units first), or every row streamed as NDJSON / CSV in the same order.
 */
import { csvRecord } from "../report/csv.ts";
import type { ReadUnitResultsOptions, UnitResult, UnitResultOrder, UnitResultPage, UnitResultStore } from "../store/unit-result-types.ts";

export const UNIT_CSV_COLUMNS = ["index", "layer", "unit", "unitMem", "point", "muMax", "muOthers"] as const satisfies readonly (keyof UnitResult)[];

/** The API's `order` values → the store's. */
export const UNIT_ORDERS: Readonly<Record<"index" | "unitMem", UnitResultOrder>> = { index: "index", unitMem: "unitMemDesc" };

export function unitCsvHeader(): string {
  return UNIT_CSV_COLUMNS.join(",") + "\r\n";
}

export function unitCsvLine(row: UnitResult): string {
  return csvRecord(UNIT_CSV_COLUMNS, row);
}

export function unitNdjsonLine(row: UnitResult): string {
  return JSON.stringify(row) + "\n";
}

/** Every row in `order`, page by page (a UnitMem audit has O(units) rows; memory: one page). */
export async function* allUnitRows(
  store: Pick<UnitResultStore, "readUnitResults">,
  auditId: string,
  options: Omit<ReadUnitResultsOptions, "limit" | "cursor">,
): AsyncIterable<UnitResult> {
  let cursor: string | null = null;
  do {
    const page: UnitResultPage = await store.readUnitResults(auditId, { ...options, limit: 1000, cursor });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== null);
}
