/**
 * The one-pass graph of a UnitMem batch: augmentation → the encoder → for each chosen layer, the
 * mean activation of every unit over each point's views (a channel first averaged over H×W, a
 * token feature over T). Only [P, U] per layer comes back: the per-point means UnitMem needs.
 *
 *   sources, view parameters ─► augmentation ─► views [P·V,…] ─► encoder::<layer> ─► mean over
 *   space ─► [P·V, U] ─► reshape [P, V, U] ─► mean over views ─► unit_means_<i> [P, U]
 */
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, type ModelProto } from "onnx-buf";
import { emitAugmentation, OpsetOps, type AugmentGraphOptions } from "./augment-graph.ts";
import type { Encoder } from "./encoder.ts";
import { poolValue } from "./fused-graph.ts";
import type { LayerTap } from "./layers.ts";
import { GraphBuilder } from "./onnx/builder.ts";
import { appendEncoder, composable, defaultOpset, extraOpsets, MIN_COMPOSE_OPSET } from "./onnx/compose.ts";

export function unitMeansOutput(i: number): string {
  return `unit_means_${i}`;
}

export type UnitGraph = { ok: true; model: Uint8Array } | { ok: false; reason: string };

export function buildUnitGraph(spec: { augment: AugmentGraphOptions; bytes: Uint8Array; encoder: Encoder; taps: readonly LayerTap[]; viewsPerPoint: number }): UnitGraph {
  const { encoder } = spec;
  if (encoder.info.input.batch !== null) return { ok: false, reason: `the encoder was exported with a fixed batch of ${encoder.info.input.batch}` };
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, spec.bytes);
  } catch {
    return { ok: false, reason: "the encoder could not be parsed for composition" };
  }
  const opset = Math.max(MIN_COMPOSE_OPSET, defaultOpset(model));
  const reason = composable([model], opset);
  if (reason !== null) return { ok: false, reason };
  const irVersion = Math.max(8, Number(model.irVersion));
  const extra = extraOpsets([model]);
  const g = new GraphBuilder("sslmem_unitmem_batch");
  const ops = new OpsetOps(g, opset);
  const views = emitAugmentation(g, spec.augment, opset);
  appendEncoder(g, model, { prefix: "encoder::", inputName: encoder.info.input.name, source: views, output: encoder.output.name, opset, alsoKeep: spec.taps.map((t) => t.value) });
  spec.taps.forEach((tap, i) => {
    const rows = poolValue(g, ops, `encoder::${tap.value}`, { rank: tap.dims.length, dtype: tap.dtype, pool: "mean" });
    const perPoint = g.op1("Reshape", [rows, g.constInt64([-1, spec.viewsPerPoint, tap.dim])]);
    const name = unitMeansOutput(i);
    g.op1("Identity", [ops.reduce("ReduceMean", perPoint, [1], 0)], {}, name);
    g.output(name, "float", ["points", tap.dim]);
  });
  return { ok: true, model: g.toModelBytes({ opset, irVersion, extraOpsets: extra, producer: "sslmem-unitmem" }) };
}
