/**
 * LayerMem rows of the results endpoint: `?layers=all` or `?layers=NAME,NAME` adds to each row its
 * score on those layers, each named, in the encoder's order (whatever order the query used), the
 * same in JSON pages, NDJSON and CSV. Names are the audit's layer names (GET /v1/audits/{id} lists
 * them); an unknown name or an audit without layers is a 400 naming what would have worked.
 */
import type { LayerDescription } from "../core/layermem.ts";
import { validationError } from "../core/problem.ts";
import type { LayerScore } from "../core/scores.types.ts";
import { csvField } from "../report/csv.ts";
import type { StoredResult } from "../store/types.ts";

/** The requested layers: their names and positions in the audit's layer order. */
export interface LayerColumns {
  names: string[];
  indices: number[];
}

export interface NamedLayerScore extends LayerScore {
  name: string;
}

/** A result row as the endpoint returns it: the stored row, with the selected layers named. */
export type ResultRowOut = Omit<StoredResult, "layers"> & { layers?: NamedLayerScore[] };

const SHOWN_NAMES = 40;

function listed(layers: readonly LayerDescription[]): string {
  const names = layers.slice(0, SHOWN_NAMES).map((l) => JSON.stringify(l.name));
  return names.join(", ") + (layers.length > SHOWN_NAMES ? `, … (${layers.length} in all)` : "");
}

/**
 * Resolves `?layers=` against the audit's layers. `measuresLayers`: the audit was submitted with
 * config.layers (its layers are recorded once it starts measuring; until then `all` selects none).
 */
export function selectLayers(requested: string, layers: readonly LayerDescription[], measuresLayers: boolean): LayerColumns {
  if (!measuresLayers) {
    throw validationError("this audit measures no layers; submit it with config.layers (e.g. \"auto\") to get per-layer rows", [
      { path: "layers", message: "the audit has no LayerMem layers", location: "query" },
    ]);
  }
  if (requested === "all") return { names: layers.map((l) => l.name), indices: layers.map((_, i) => i) };
  const wanted = new Set(requested.split(","));
  const unknown = [...wanted].filter((name) => !layers.some((l) => l.name === name));
  if (unknown.length > 0) {
    const known = layers.length > 0 ? `this audit's layers are ${listed(layers)}` : "the audit's layers are known once it starts measuring";
    throw validationError(`unknown layer ${JSON.stringify(unknown[0])}: ${known}; or ask for layers=all`, [
      { path: "layers", message: `no layer named ${JSON.stringify(unknown[0])}`, location: "query" },
    ]);
  }
  const indices = layers.flatMap((l, i) => (wanted.has(l.name) ? [i] : []));
  return { names: indices.map((i) => layers[i].name), indices };
}

/** The row with only the selected layers, named; without a selection, the row without layer scores. */
export function withLayerColumns(row: StoredResult, columns: LayerColumns | undefined): ResultRowOut {
  const { layers, ...rest } = row;
  if (!columns) return rest;
  return {
    ...rest,
    layers: columns.indices.flatMap((i, k) => (layers?.[i] ? [{ name: columns.names[k], ...layers[i] }] : [])),
  };
}

const LAYER_FIELDS = ["alignTarget", "alignReference", "score", "stdErr"] as const;

/** CSV header cells of the selected layers: `layer:NAME:score` and its siblings, per layer. */
export function layerCsvHeader(columns: LayerColumns): string[] {
  return columns.names.flatMap((name) => LAYER_FIELDS.map((f) => csvField(`layer:${name}:${f}`)));
}

/** CSV cells of a row's selected layers, aligned with layerCsvHeader (empty when the row has none). */
export function layerCsvCells(row: StoredResult, columns: LayerColumns): string[] {
  return columns.indices.flatMap((i) => LAYER_FIELDS.map((f) => csvField(row.layers?.[i]?.[f])));
}
