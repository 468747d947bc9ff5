/**
 * `--precision fp16`: an encoder's graph converted to compute in float16, for execution providers
 * with fast half-precision kernels (CUDA, WebGPU). Float initializers and Constant tensors become
 * float16, Casts to float become Casts to float16, and the composed graph casts the views to
 * float16 before the encoder and its output back to float32 after it (fused-graph.ts), so the
 * augmentation, pooling and distances stay float32.
 *
 * Inputs that ONNX requires to be float32 whatever the data type (Resize/Upsample scales) are left
 * as they are. The caller refuses fp16 on providers without float16 kernels (ONNX Runtime's CPU
 * provider lacks most of them).
 */
import { TensorProto_DataType, type GraphProto, type NodeProto, type TensorProto } from "onnx-buf";

/** (op type, input index) pairs that stay float32 in a float16 graph. */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [2], Upsample: [1] };

/** IEEE 754 single → half, round to nearest even (overflow → ±Inf, NaN kept). */
export function float32ToHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

function floatValues(t: TensorProto): Float32Array {
  // A copy: rawData may be an unaligned view into the model file's buffer (a Node Buffer, whose
  // slice() would not copy).
  if (t.rawData.length > 0) return new Float32Array(new Uint8Array(t.rawData).buffer);
  return Float32Array.from(t.floatData);
}

function toHalfTensor(t: TensorProto): void {
  const values = floatValues(t);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float32ToHalfBits(values[i]);
  t.dataType = TensorProto_DataType.FLOAT16;
  t.floatData = [];
  t.rawData = new Uint8Array(half.buffer);
}

function convertGraph(graph: Pick<GraphProto, "node" | "initializer">, keepFloat32: Set<string>): void {
  for (const t of graph.initializer) if (t.dataType === TensorProto_DataType.FLOAT && !keepFloat32.has(t.name)) toHalfTensor(t);
  for (const node of graph.node) {
    for (const a of node.attribute) {
      if (a.t && a.t.dataType === TensorProto_DataType.FLOAT && !(node.opType === "Constant" && node.output.some((o) => keepFloat32.has(o)))) toHalfTensor(a.t);
      if (node.opType === "Cast" && a.name === "to" && Number(a.i) === TensorProto_DataType.FLOAT) a.i = BigInt(TensorProto_DataType.FLOAT16);
      if (a.g) convertGraph(a.g, keepFloat32);
      for (const sub of a.graphs) convertGraph(sub, keepFloat32);
    }
  }
}

/** Converts nodes and initializers (already renamed for the composed graph) to float16, in place. */
export function convertToFloat16(nodes: NodeProto[], initializers: TensorProto[]): void {
  const keepFloat32 = new Set<string>();
  for (const node of nodes) for (const i of FLOAT32_INPUTS[node.opType] ?? []) if (node.input[i]) keepFloat32.add(node.input[i]);
  convertGraph({ node: nodes, initializer: initializers }, keepFloat32);
}
