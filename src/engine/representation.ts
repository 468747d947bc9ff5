/**
 * From an encoder's raw output to one representation row per view: which output, how tokens or
 * feature maps are pooled, and the checks that the rows are usable (finite, fixed width).
 */
import type * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import { describeValue, formatDims, isNumericTensor, quoteName, type Dim, type ValueSummary } from "./onnx/inspect.ts";

/**
 * `flatten` (default; the authors' MAE code reshapes [N,T,D] to [N,T·D]), `mean` over tokens or
 * over H,W, `cls` = token 0 of [N,T,D]. A 2-D output [N,D] is used as is whatever the pooling.
 */
export type Pooling = "flatten" | "mean" | "cls";

/** The output named by the user, else the first output. */
export function selectOutput(outputs: readonly ValueSummary[], outputName?: string): ValueSummary {
  const chosen = outputName === undefined ? outputs[0] : outputs.find((o) => o.name === outputName);
  if (chosen === undefined) {
    throw new SslmemError(
      "model_output_invalid",
      `the model has no output ${quoteName(outputName ?? "")}; available outputs: ${outputs.map(describeValue).join(", ")}`,
      { available: outputs.map((o) => o.name) },
    );
  }
  if (!isNumericTensor(chosen)) {
    const usable = outputs.filter(isNumericTensor).map((o) => quoteName(o.name));
    throw new SslmemError(
      "model_output_invalid",
      `output ${describeValue(chosen)} is not a numeric tensor and cannot be a representation; choose another output (--output) among: ${usable.join(", ")}`,
    );
  }
  return chosen;
}

/** Refuses, before any run, an output whose declared rank the pooling cannot handle. */
export function checkPooling(output: ValueSummary, pool: Pooling): void {
  if (output.dims === null) return; // rank unknown until the probe run; poolRows checks then
  checkRank(output.dims.length, pool, output.name, output.dims);
}

function checkRank(rank: number, pool: Pooling, name: string, dims: readonly Dim[]): void {
  if (rank < 2 || rank > 4) {
    throw new SslmemError(
      "model_output_invalid",
      `output ${quoteName(name)} has shape ${formatDims([...dims])}; a representation must be [N,D], [N,T,D] or [N,C,H,W]`,
    );
  }
  if (rank === 4 && pool === "cls") {
    throw new SslmemError(
      "invalid_config",
      `pooling "cls" takes token 0 of a [N,T,D] output, but output ${quoteName(name)} is a feature map ${formatDims([...dims])}; use pool "mean" or "flatten"`,
    );
  }
}

/** The representation width known from the declared shape, or null when a probe run must tell. */
export function staticRepresentationDim(dims: readonly Dim[] | null, pool: Pooling): number | null {
  if (dims === null) return null;
  const rest = dims.slice(1);
  if (!rest.every((d): d is number => typeof d === "number")) return null;
  const [a, b] = rest;
  switch (rest.length) {
    case 1:
      return a;
    case 2: // [T, D]
      return pool === "flatten" ? a * b : b;
    case 3: // [C, H, W]
      return pool === "flatten" ? a * rest[1] * rest[2] : a;
    default:
      return null;
  }
}

export interface Rows {
  data: Float32Array;
  /** Number of rows (views). */
  n: number;
  dim: number;
}

/** Pools a row-major output of shape `dims` (batch first) into one row per view. */
export function poolRows(data: Float32Array, dims: readonly number[], pool: Pooling, outputName = "output"): Rows {
  checkRank(dims.length, pool, outputName, dims);
  const n = dims[0];
  const perView = dims.slice(1).reduce((a, b) => a * b, 1);
  if (data.length !== n * perView) {
    throw new SslmemError("engine_failure", `output ${quoteName(outputName)} has ${data.length} values for shape ${formatDims([...dims])}`);
  }
  if (dims.length === 2 || pool === "flatten") {
    return { data, n, dim: perView };
  }
  if (dims.length === 3) {
    const [, t, d] = dims;
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const base = i * t * d;
      if (pool === "cls") {
        out.set(data.subarray(base, base + d), i * d);
      } else {
        for (let k = 0; k < t; k++) for (let j = 0; j < d; j++) out[i * d + j] += data[base + k * d + j];
        for (let j = 0; j < d; j++) out[i * d + j] /= t;
      }
    }
    return { data: out, n, dim: d };
  }
  // rank 4, mean over H and W (cls was refused by checkRank)
  const [, c, h, w] = dims;
  const hw = h * w;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * hw;
      let s = 0;
      for (let k = 0; k < hw; k++) s += data[base + k];
      out[i * c + ch] = s / hw;
    }
  }
  return { data: out, n, dim: c };
}

/** The output's values as float32, whatever numeric type the model emits. */
export function tensorToFloat32(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) return data;
  if (tensor.type === "float16") return halfToFloat32(data as Uint16Array);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, (v) => Number(v));
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) return Float32Array.from(data as ArrayLike<number>);
  throw new SslmemError("model_output_invalid", `the chosen output has element type ${tensor.type}, which is not numeric`);
}

/** IEEE 754 half → single precision (ORT for Node hands float16 tensors over as raw Uint16Array). */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** NaN or ±Inf in a representation would poison every distance; refuse with the first position. */
export function assertFinite(rows: Rows, outputName: string): void {
  const { data, dim } = rows;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      throw new SslmemError(
        "model_output_invalid",
        `output ${quoteName(outputName)} contains ${Number.isNaN(v) ? "NaN" : "an infinite value"} (view ${Math.floor(i / dim)} of the batch, component ${i % dim}); check the model and its preprocessing (range, mean, std)`,
        { view: Math.floor(i / dim), component: i % dim },
      );
    }
  }
}
