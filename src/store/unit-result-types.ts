/**
 * The per-unit rows of a UnitMem audit (kind `unitmem`): one row per unit of the scored layers,
 * O(units) — bounded by the encoder, never by the data. Written once by the engine when the run
 * ends (an upsert: a rerun after a crash rewrites the same rows), read by the results endpoint.
 * The SQL lives in sqlite-unit-results.ts and pg-unit-results.ts; CheckedStore checks arguments.
 */
import { SslmemError } from "../core/errors.ts";

export interface UnitResult {
  /** Position over all scored units: layers in report order, then units in order (unique per audit). */
  index: number;
  /** The layer's ONNX value name. */
  layer: string;
  /** The unit's index within its layer (a channel of a feature map, a feature of a vector). */
  unit: number;
  unitMem: number;
  /** Id of the point the unit is most selective for (k*). */
  point: string;
  /** μ_max: the unit's mean activation over that point's views. */
  muMax: number;
  /** μ_−max: the baseline (median or mean, the report says which) over the other points. */
  muOthers: number;
}

/** A page of unit rows (the shape of types.ts's Page, which this module cannot import: types.ts imports it). */
export interface UnitResultPage {
  items: UnitResult[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const UNIT_RESULT_ORDERS = ["index", "unitMemDesc"] as const;
export type UnitResultOrder = (typeof UNIT_RESULT_ORDERS)[number];

export interface ReadUnitResultsOptions {
  /** 1…10000. */
  limit: number;
  /** From a previous page's nextCursor. */
  cursor?: string | null;
  /** "index" (default) or highest UnitMem first (ties by index). */
  order?: UnitResultOrder;
  /** Only this layer's units. */
  layer?: string;
}

export interface UnitResultStore {
  /** Upserts by (auditId, index) in one transaction. Throws `not_found` for a deleted audit. */
  appendUnitResults(auditId: string, rows: readonly UnitResult[]): Promise<void>;
  readUnitResults(auditId: string, options: ReadUnitResultsOptions): Promise<UnitResultPage>;
  /** Every row (of `layer`, when given) in index order, fetched in chunks: memory bounded by the chunk. */
  iterateUnitResults(auditId: string, options?: { layer?: string; chunkSize?: number }): AsyncIterable<UnitResult>;
  countUnitResults(auditId: string): Promise<number>;
}

/** What a dialect provides for the unit rows (arguments arrive checked). */
export interface UnitResultSql {
  /** Upserts in one transaction; false (nothing written) when the audit no longer exists. */
  upsert(auditId: string, rows: readonly UnitResult[]): Promise<boolean>;
  /** Index order, indices above `after`, at most `limit`. */
  afterIndex(auditId: string, layer: string | null, after: number, limit: number): Promise<UnitResult[]>;
  /** Highest UnitMem first, ties by index. */
  byUnitMem(auditId: string, layer: string | null, limit: number, offset: number): Promise<UnitResult[]>;
  count(auditId: string): Promise<number>;
}

/** A unit row as both dialects return it (`bigint` columns may arrive as strings). */
export interface UnitResultRowOf {
  idx: number | string;
  layer: string;
  unit: number | string;
  unit_mem: number;
  point_id: string;
  mu_max: number;
  mu_others: number;
}

export const UNIT_RESULT_COLUMNS = "idx, layer, unit, unit_mem, point_id, mu_max, mu_others";

export function toUnitResult(row: UnitResultRowOf): UnitResult {
  return {
    index: Number(row.idx),
    layer: row.layer,
    unit: Number(row.unit),
    unitMem: row.unit_mem,
    point: row.point_id,
    muMax: row.mu_max,
    muOthers: row.mu_others,
  };
}

export function assertUnitResult(row: UnitResult): void {
  const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!count(row.index) || !count(row.unit)) throw new SslmemError("internal", "a unit row needs non-negative integer index and unit");
  if (typeof row.layer !== "string" || row.layer.length === 0 || typeof row.point !== "string" || row.point.length === 0) {
    throw new SslmemError("internal", `unit row ${row.index} needs a layer and a point id`);
  }
  for (const [name, v] of [["unitMem", row.unitMem], ["muMax", row.muMax], ["muOthers", row.muOthers]] as const) {
    // SQLite stores NaN as NULL and JSON cannot carry it: refuse rather than lose it silently.
    if (!Number.isFinite(v)) throw new SslmemError("internal", `${name} of unit row ${row.index} must be a finite number`);
  }
}
