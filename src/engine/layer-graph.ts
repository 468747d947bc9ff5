/**
 * LayerMem inside the one-pass batch graph: each chosen layer value of an encoder is pooled like
 * the representation (DESIGN.md §1) and turned into K pair distances per point, on the same views
 * in the same run. Only [P,K] per layer comes back, never the activations.
 *
 *   target::<layer value> ─► pool ─► n(·) ─► pair distances ─► target_layer_distances_<i>    [P,K]
 */
import type { DistanceKind } from "../core/distances.ts";
import type { Pairing } from "../core/sslmem.ts";
import type { OpsetOps } from "./augment-graph.ts";
import { pairDistances, poolValue } from "./fused-graph.ts";
import type { LayerTap } from "./layers.ts";
import type { GraphBuilder } from "./onnx/builder.ts";
import type { Pooling } from "./representation.ts";

export type EncoderSide = "target" | "reference";

/** The taps of each encoder, index-aligned (layer i is target[i] and reference[i]). */
export interface LayerTaps {
  target: readonly LayerTap[];
  reference: readonly LayerTap[];
}

/** Output name of layer `i`'s [P,K] distances under one encoder. */
export function layerDistancesOutput(side: EncoderSide, i: number): string {
  return `${side}_layer_distances_${i}`;
}

/** Emits one [P,K] distances output per tap; `appendEncoder` kept the taps under `side::`. */
export function emitLayerDistances(
  g: GraphBuilder,
  ops: OpsetOps,
  side: EncoderSide,
  taps: readonly LayerTap[],
  opts: { pool: Pooling; perPoint: number; pairs: number; pairing: Pairing; distance: DistanceKind; /** The encoders run in float16: every tap is float16. */ float16?: boolean },
): void {
  taps.forEach((tap, i) => {
    const rows = poolValue(g, ops, `${side}::${tap.value}`, { rank: tap.dims.length, dtype: opts.float16 ? "float16" : tap.dtype, pool: opts.pool });
    const d = pairDistances(g, ops, rows, tap.dim, opts.perPoint, opts.pairing, opts.distance);
    const name = layerDistancesOutput(side, i);
    g.op1("Identity", [d], {}, name);
    g.output(name, "float", ["points", opts.pairs]);
  });
}
