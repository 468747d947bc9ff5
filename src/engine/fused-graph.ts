/**
 * The one-pass graph of an audit batch (DESIGN.md §2–3): augmentation → target and reference
 * encoders on the same views tensor → pooling → per-pair distances, composed into one ONNX model
 * so that a batch goes in as source pixels + view parameters and only K distances per point per
 * encoder come back (O(points × K) floats instead of O(points × views × pixels)), and the views
 * never leave the execution provider.
 *
 *   sources, view parameters ─► augmentation (augment-graph.ts) ─► views [V,…]
 *   (or the views themselves, made on the host: host-augment.ts, batch-pipeline.ts defaultAugmentSite)
 *       ├─► target::encoder  ─► pool ─► n(·) ─► pair distances ─► target_distances    [P,K]
 *       └─► reference::encoder ─► pool ─► n(·) ─► pair distances ─► reference_distances [P,K]
 *   (and target_representation / reference_representation [V,D], fetched only on request)
 *
 * The distances follow src/core/distances.ts: l2 between L2-normalized rows (a zero row stays
 * zero), cosine = 1 − clip(n(a)·n(b), −1, 1) (1 when either row is zero). A NaN or ±Inf in a
 * representation makes its distances non-finite, which the caller turns into the same error as the
 * chained pipeline (by re-running that batch there, where the representation is checked).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, type ModelProto } from "onnx-buf";
import type { DistanceKind } from "../core/distances.ts";
import type { Pairing } from "../core/sslmem.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import { emitAugmentation, OpsetOps, type AugmentGraphOptions } from "./augment-graph.ts";
import type { Encoder } from "./encoder.ts";
import { HOST_VIEWS_INPUT } from "./host-augment.ts";
import { appendEncoder, composable, defaultOpset, extraOpsets, MIN_COMPOSE_OPSET } from "./onnx/compose.ts";
import { elemTypeCode, GraphBuilder } from "./onnx/builder.ts";
import { emitLayerDistances, type LayerTaps } from "./layer-graph.ts";
import type { Pooling } from "./representation.ts";

export const FUSED_OUTPUTS = {
  distances: { target: "target_distances", reference: "reference_distances" },
  representation: { target: "target_representation", reference: "reference_representation" },
} as const;

export interface FusedGraphSpec {
  augment: AugmentGraphOptions;
  /**
   * The views are made on the host (host-augment.ts) and are the graph's input HOST_VIEWS_INPUT,
   * normalized and in the encoder's layout, instead of the augmentation's output.
   */
  hostViews?: boolean;
  target: { bytes: Uint8Array; encoder: Encoder };
  reference: { bytes: Uint8Array; encoder: Encoder };
  pairs: number;
  pairing: Pairing;
  distance: DistanceKind;
  /** LayerMem: per-layer distances of these taps too (layer-graph.ts). */
  layers?: LayerTaps;
  /** Encoders in float16 (views cast down before, representations cast up after). */
  float16?: boolean;
}

export type FusedGraph = { ok: true; model: Uint8Array; opset: number } | { ok: false; reason: string };

/** Why this encoder cannot run inside the composed graph, or null. */
function encoderObstacle(encoder: Encoder): string | null {
  if (encoder.info.input.batch !== null) return `an encoder was exported with a fixed batch of ${encoder.info.input.batch}`;
  if (encoder.output.dims === null) return "an encoder's representation output has no declared rank";
  return null;
}

/** Builds the composed model, or says why the encoders cannot be composed. */
export function buildFusedGraph(spec: FusedGraphSpec): FusedGraph {
  for (const side of [spec.target, spec.reference]) {
    const obstacle = encoderObstacle(side.encoder);
    if (obstacle !== null) return { ok: false, reason: obstacle };
  }
  let models: ModelProto[];
  try {
    models = [fromBinary(ModelProtoSchema, spec.target.bytes), fromBinary(ModelProtoSchema, spec.reference.bytes)];
  } catch {
    return { ok: false, reason: "an encoder could not be parsed for composition" };
  }
  const opset = Math.max(MIN_COMPOSE_OPSET, ...models.map(defaultOpset));
  const reason = composable(models, opset);
  if (reason !== null) return { ok: false, reason };

  const g = new GraphBuilder("sslmem_audit_batch");
  const ops = new OpsetOps(g, opset);
  const { height: oh, width: ow } = spec.augment.out;
  const views = spec.hostViews
    ? g.input(HOST_VIEWS_INPUT, "float", spec.augment.layout === "NHWC" ? ["views", oh, ow, 3] : ["views", 3, oh, ow])
    : emitAugmentation(g, spec.augment, opset);
  const perPoint = viewsPerPoint(spec.pairs, spec.pairing);
  const sides = [
    ["target", spec.target, models[0]],
    ["reference", spec.reference, models[1]],
  ] as const;
  for (const [name, side, model] of sides) {
    const { encoder } = side;
    const taps = spec.layers?.[name] ?? [];
    const source = spec.float16 ? g.op1("Cast", [views], { to: elemTypeCode("float16") }) : views;
    let raw = appendEncoder(g, model, { prefix: `${name}::`, inputName: encoder.info.input.name, source, output: encoder.output.name, opset, float16: spec.float16, alsoKeep: taps.map((t) => t.value) });
    if (spec.float16) raw = g.op1("Cast", [raw], { to: elemTypeCode("float") });
    const rows = pool(g, ops, raw, spec.float16 ? "float32" : encoder.output.dtype, encoder);
    g.op1("Identity", [rows], {}, FUSED_OUTPUTS.representation[name]);
    g.output(FUSED_OUTPUTS.representation[name], "float", ["views", encoder.dim]);
    const d = pairDistances(g, ops, rows, encoder.dim, perPoint, spec.pairing, spec.distance);
    g.op1("Identity", [d], {}, FUSED_OUTPUTS.distances[name]);
    g.output(FUSED_OUTPUTS.distances[name], "float", ["points", spec.pairs]);
    emitLayerDistances(g, name, taps, spec.pairs, {
      // In a float16 graph every tap is float16: poolValue casts it up.
      rows: (value, tap) => poolValue(g, ops, value, { rank: tap.dims.length, dtype: spec.float16 ? "float16" : tap.dtype, pool: encoder.pool }),
      distances: (rows, dim) => pairDistances(g, ops, rows, dim, perPoint, spec.pairing, spec.distance),
    });
  }
  const irVersion = Math.max(8, ...models.map((m) => Number(m.irVersion)));
  return { ok: true, model: g.toModelBytes({ opset, irVersion, extraOpsets: extraOpsets(models), producer: "sslmem-fused" }), opset };
}

/** The representation rows [V,D] of an encoder output, as representation.ts pools them. */
function pool(g: GraphBuilder, ops: OpsetOps, output: string, dtype: string | null, encoder: Encoder): string {
  return poolValue(g, ops, output, { rank: encoder.output.dims!.length, dtype, pool: encoder.pool });
}

/** Rows [V,D] of a value of known rank, as representation.ts pools them. */
export function poolValue(g: GraphBuilder, ops: OpsetOps, output: string, value: { rank: number; dtype: string | null; pool: Pooling }): string {
  const { rank } = value;
  let rows = output;
  if (value.dtype !== "float32") rows = g.op1("Cast", [rows], { to: elemTypeCode("float") });
  if (rank === 2) return rows;
  if (value.pool === "flatten") return g.op1("Flatten", [rows], { axis: 1 });
  if (value.pool === "cls") return g.op1("Gather", [rows, g.constInt64(0, [])], { axis: 1 });
  return ops.reduce("ReduceMean", rows, rank === 3 ? [1] : [2, 3], 0);
}

/** Per-pair distances [P,K] of rows [P·perPoint, D] under a pairing. */
export function pairDistances(g: GraphBuilder, ops: OpsetOps, rows: string, dim: number, perPoint: number, pairing: Pairing, kind: DistanceKind): string {
  // n(v) = v/‖v‖, n(0) = 0.
  const norm = g.op1("Sqrt", [ops.reduce("ReduceSum", g.op1("Mul", [rows, rows]), [1], 1)]);
  const zero = g.constFloat(0);
  const inverse = g.op1("Where", [g.op1("Equal", [norm, zero]), zero, g.op1("Div", [g.constFloat(1), norm])]);
  const unit = g.op1("Mul", [rows, inverse]);
  let a: string;
  let b: string;
  if (pairing === "views") {
    // Views 2j and 2j+1 form pair j: [P, K, 2, D] split on axis 2.
    const pairs = g.op1("Reshape", [unit, g.constInt64([-1, perPoint / 2, 2, dim])]);
    [a, b] = ops.split(pairs, 2, 2);
  } else {
    // View 0 is the original; pair j is (view 0, view j + 1).
    const perPointRows = g.op1("Reshape", [unit, g.constInt64([-1, perPoint, 1, dim])]);
    a = g.op1("Slice", [perPointRows, g.constInt64([0]), g.constInt64([1]), g.constInt64([1])]);
    b = g.op1("Slice", [perPointRows, g.constInt64([1]), g.constInt64([perPoint]), g.constInt64([1])]);
  }
  if (kind === "l2") {
    const diff = g.op1("Sub", [a, b]);
    return g.op1("Sqrt", [ops.reduce("ReduceSum", g.op1("Mul", [diff, diff]), [2, 3], 0)]);
  }
  const cos = ops.reduce("ReduceSum", g.op1("Mul", [a, b]), [2, 3], 0);
  return g.op1("Sub", [g.constFloat(1), g.op1("Clip", [cos, g.constFloat(-1), g.constFloat(1)])]);
}
