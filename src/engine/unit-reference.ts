/**
 * UnitMem's per-point unit means on the host: the encoder session with its layers as outputs runs
 * on the views, and TypeScript averages each unit over space (representation.ts poolRows, "mean")
 * and over each point's views. The host path of `sslmem units` when the encoder does not compose,
 * and the reference the composed graph is tested against (≤ 1e-5).
 */
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import type { Encoder } from "./encoder.ts";
import type { LayerTap } from "./layers.ts";
import { assertFinite, poolRows, tensorToFloat32 } from "./representation.ts";

/** Per layer, [points, units] means of `points × viewsPerPoint` views (in the encoder's layout). */
export async function hostUnitMeans(
  session: ort.InferenceSession,
  encoder: Encoder,
  taps: readonly LayerTap[],
  views: Float32Array,
  points: number,
  viewsPerPoint: number,
): Promise<Float32Array[]> {
  const n = points * viewsPerPoint;
  if (encoder.info.input.batch !== null && encoder.info.input.batch !== n) {
    throw new SslmemError("invalid_config", "UnitMem of an encoder exported with a fixed batch needs batches of exactly that many views; export it with a dynamic batch");
  }
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await session.run({ [encoder.info.input.name]: new ort.Tensor("float32", views, [n, ...encoder.viewShape]) }, taps.map((t) => t.value));
  } catch (e) {
    throw new SslmemError("engine_failure", "ONNX Runtime failed while computing the encoder's layers", undefined, { cause: e });
  }
  return taps.map((tap) => {
    const tensor = result[tap.value];
    const rows = poolRows(tensorToFloat32(tensor), tensor.dims.map(Number), "mean", tap.value);
    assertFinite(rows, tap.value);
    const out = new Float32Array(points * rows.dim);
    for (let p = 0; p < points; p++) {
      for (let v = 0; v < viewsPerPoint; v++) {
        const base = (p * viewsPerPoint + v) * rows.dim;
        for (let u = 0; u < rows.dim; u++) out[p * rows.dim + u] += rows.data[base + u];
      }
      for (let u = 0; u < rows.dim; u++) out[p * rows.dim + u] /= viewsPerPoint;
    }
    return out;
  });
}
