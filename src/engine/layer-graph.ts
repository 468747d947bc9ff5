/**
 * LayerMem inside the one-pass batch graph: each chosen layer value of an encoder is pooled like
 * the representation (DESIGN.md §1) and turned into K pair distances per point, on the same views
 * in the same run. Only [P,K] per layer comes back, never the activations.
 *
 *   target::<layer value> ─► pool ─► n(·) ─► pair distances ─► target_layer_distances_<i>    [P,K]
 */
import type { LayerTap } from "./layers.ts";
import type { GraphBuilder } from "./onnx/builder.ts";

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

/**
 * How the host graph pools a value into rows and pairs rows into [P,K] distances — the same
 * emitters as the representation's (fused-graph.ts passes its own, so both paths are one rule).
 */
export interface RowEmitters {
  rows(value: string, tap: LayerTap): string;
  distances(rows: string, dim: number): string;
}

/** Emits one [P,K] distances output per tap; `appendEncoder` kept the taps under `side::`. */
export function emitLayerDistances(g: GraphBuilder, side: EncoderSide, taps: readonly LayerTap[], pairs: number, emit: RowEmitters): void {
  taps.forEach((tap, i) => {
    const d = emit.distances(emit.rows(`${side}::${tap.value}`, tap), tap.dim);
    const name = layerDistancesOutput(side, i);
    g.op1("Identity", [d], {}, name);
    g.output(name, "float", ["points", pairs]);
  });
}
