/**
 * Static checks on a TF.js model.json before TensorFlow.js sees it — the TF.js counterpart of
 * onnx/inspect.ts. A model.json names its weight shards by relative path and declares every
 * weight's shape; an uploaded one could name "../../etc/passwd", an absolute path or a URL as a
 * shard, declare shapes that would allocate terabytes, or use layer classes we do not know (a
 * custom layer would need code we never run). Each is refused here with a clear message.
 */
import { SslmemError } from "../../core/errors.ts";

export const TFJS_LIMITS = {
  /** model.json text. */
  modelJsonBytes: 16 * 2 ** 20,
  /** Elements of one weight. */
  weightElements: 2 ** 28,
  /** All weights together. */
  totalBytes: 2 * 2 ** 30,
  shards: 4096,
} as const;

/** Keras layer classes the LayersModel loader accepts (tfjs-layers implements them all). */
export const KNOWN_LAYER_CLASSES: ReadonlySet<string> = new Set([
  "InputLayer", "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense", "BatchNormalization",
  "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ZeroPadding2D", "Cropping2D",
  "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "Flatten",
  "Reshape", "Permute", "Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate", "Dropout", "SpatialDropout2D",
  "UpSampling2D", "Rescaling", "Sequential", "Model", "Functional",
]);

/**
 * TensorFlow ops a GraphModel encoder may use: what exported vision encoders consist of (tfjs-converter
 * maps them all). Control flow (Switch/Merge/While…), hash tables, string and dynamic-shape ops
 * (executeAsync only, or data-dependent allocations) and custom ops are refused by omission: an op
 * TF.js does not know would otherwise load and fail only when the graph first runs.
 */
export const KNOWN_GRAPH_OPS: ReadonlySet<string> = new Set([
  "Placeholder", "PlaceholderWithDefault", "Const", "Identity", "IdentityN", "NoOp", "StopGradient", "Snapshot",
  "Conv2D", "_FusedConv2D", "DepthwiseConv2d", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "Conv2DBackpropInput",
  "MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2", "BiasAdd", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
  "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Softplus", "Erf", "Exp", "Log", "Sqrt", "Rsqrt", "Square", "Abs", "Neg", "Reciprocal",
  "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "Maximum", "Minimum", "Pow", "SquaredDifference",
  "Mean", "Sum", "Max", "Min", "Prod", "MaxPool", "AvgPool", "Reshape", "Squeeze", "ExpandDims", "Transpose", "ConcatV2", "Concat",
  "Pack", "Unpack", "Pad", "PadV2", "MirrorPad", "Slice", "StridedSlice", "Shape", "Cast", "Fill", "Tile", "GatherV2", "Gather", "Einsum",
]);

/** Nodes a GraphModel topology may hold. */
const MAX_GRAPH_NODES = 100_000;

/** Checks a GraphDef (GraphModel topology): nodes with names and known ops, inputs naming nodes. */
function checkGraphDef(topology: Record<string, unknown>): void {
  const nodes = topology.node;
  if (!Array.isArray(nodes) || nodes.length === 0) throw invalid("the GraphModel topology has no node list");
  if (nodes.length > MAX_GRAPH_NODES) throw invalid(`the GraphModel topology has more than ${MAX_GRAPH_NODES} nodes`);
  if (isRecord(topology.library) && Array.isArray(topology.library.function) && topology.library.function.length > 0) {
    throw new SslmemError("model_unsupported", "model.json: the GraphModel defines functions (control flow); export the encoder without control flow");
  }
  const names = new Set<string>();
  for (const n of nodes) {
    if (!isRecord(n) || typeof n.name !== "string" || typeof n.op !== "string") throw invalid("a GraphModel node lacks a name or op");
    names.add(n.name);
  }
  const unknown = new Set<string>();
  for (const n of nodes) {
    if (!isRecord(n) || typeof n.op !== "string") continue;
    if (!KNOWN_GRAPH_OPS.has(n.op)) unknown.add(n.op);
    if (n.input !== undefined && !Array.isArray(n.input)) throw invalid(`GraphModel node ${JSON.stringify(String(n.name).slice(0, 80))} has a malformed input list`);
    for (const input of Array.isArray(n.input) ? n.input : []) {
      // "name", "name:1" (an output index) or "^name" (a control dependency).
      const source = typeof input === "string" ? input.replace(/^\^/, "").replace(/:\d+$/, "") : "";
      if (!names.has(source)) throw invalid(`GraphModel node ${JSON.stringify(String(n.name).slice(0, 80))} reads ${JSON.stringify(String(input).slice(0, 80))}, which is no node of the graph`);
    }
  }
  if (unknown.size > 0) {
    throw new SslmemError("model_unsupported", `model.json: unknown or unsupported op${unknown.size > 1 ? "s" : ""} ${[...unknown].slice(0, 5).map((c) => JSON.stringify(c.slice(0, 60))).join(", ")}; a GraphModel encoder may use the ops of exported vision encoders only (no control flow or custom ops)`);
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
const SAFE_PATH = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32" | "int32" | "bool";
}

export interface TfjsModelManifest {
  format: "layers-model" | "graph-model";
  /** The topology as TF.js loads it (LayersModel: the Keras JSON; GraphModel: the GraphDef). */
  modelTopology: Record<string, unknown>;
  /** Shard paths in manifest order and the weights they hold, concatenated. */
  shards: string[];
  weights: WeightSpec[];
  /** Bytes the shards must hold together. */
  weightBytes: number;
}

function invalid(message: string): SslmemError {
  return new SslmemError("model_invalid", `model.json: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A shard path that stays inside the model: relative, no `..`, no scheme, no backslash. */
export function checkShardPath(path: unknown): string {
  if (typeof path !== "string" || path.length === 0 || path.length > 512) throw invalid("a weight path is not a non-empty string");
  if (!SAFE_PATH.test(path) || path.split("/").some((seg) => seg === ".." || seg === ".")) {
    throw new SslmemError("model_invalid", `model.json: weight path ${JSON.stringify(path.slice(0, 80))} points outside the model; shards must be plain relative file names next to model.json`);
  }
  return path;
}

/** Every layer class in a Keras topology (nested models included). */
function layerClasses(node: unknown, out: Set<string>, depth = 0): void {
  if (depth > 64) throw invalid("the topology nests too deeply");
  if (Array.isArray(node)) {
    for (const item of node) layerClasses(item, out, depth + 1);
    return;
  }
  if (!isRecord(node)) return;
  if (typeof node.class_name === "string" && isRecord(node.config)) out.add(node.class_name);
  if (isRecord(node.config) && Array.isArray(node.config.layers)) layerClasses(node.config.layers, out, depth + 1);
  else if (Array.isArray(node.layers)) layerClasses(node.layers, out, depth + 1);
}

/** Parses and checks a model.json; refuses anything unsafe or unsupported before any weight is read. */
export function parseModelJson(text: string): TfjsModelManifest {
  if (text.length > TFJS_LIMITS.modelJsonBytes) throw invalid(`larger than ${TFJS_LIMITS.modelJsonBytes / 2 ** 20} MiB`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid("not valid JSON");
  }
  if (!isRecord(json) || !isRecord(json.modelTopology)) throw invalid("no modelTopology object");
  const topology = json.modelTopology;
  const format = json.format === "graph-model" || (json.format === undefined && Array.isArray(topology.node)) ? "graph-model" : "layers-model";
  if (json.format !== undefined && json.format !== "layers-model" && json.format !== "graph-model") throw invalid(`unknown format ${JSON.stringify(String(json.format).slice(0, 40))}`);
  if (format === "graph-model") checkGraphDef(topology);
  if (format === "layers-model") {
    const keras = isRecord(topology.model_config) ? topology.model_config : topology;
    const classes = new Set<string>();
    layerClasses(keras, classes);
    if (classes.size === 0) throw invalid("the Keras topology declares no layers");
    const unknown = [...classes].filter((c) => !KNOWN_LAYER_CLASSES.has(c));
    if (unknown.length > 0) {
      throw new SslmemError("model_unsupported", `model.json: unknown layer class${unknown.length > 1 ? "es" : ""} ${unknown.slice(0, 5).map((c) => JSON.stringify(c.slice(0, 60))).join(", ")}; custom layers need code sslmem does not run — export them as standard Keras layers`);
    }
  }
  if (!Array.isArray(json.weightsManifest)) throw invalid("no weightsManifest array");
  const shards: string[] = [];
  const weights: WeightSpec[] = [];
  let weightBytes = 0;
  for (const group of json.weightsManifest) {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw invalid("a weightsManifest entry lacks paths or weights");
    for (const p of group.paths) shards.push(checkShardPath(p));
    for (const w of group.weights) {
      if (!isRecord(w) || typeof w.name !== "string" || !Array.isArray(w.shape)) throw invalid("a weight lacks a name or shape");
      if (w.quantization !== undefined) throw new SslmemError("model_unsupported", `model.json: weight ${JSON.stringify(w.name.slice(0, 80))} is quantized; export the model unquantized`);
      const dtype = w.dtype ?? "float32";
      if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) throw new SslmemError("model_unsupported", `model.json: weight ${JSON.stringify(w.name.slice(0, 80))} has dtype ${JSON.stringify(String(dtype))}; float32, int32 or bool`);
      let elements = 1;
      for (const d of w.shape) {
        if (!Number.isSafeInteger(d) || (d as number) < 0 || (d as number) > 2 ** 31) throw invalid(`weight ${JSON.stringify(w.name.slice(0, 80))} has an invalid dimension ${JSON.stringify(d)}`);
        elements *= d as number;
      }
      if (elements > TFJS_LIMITS.weightElements) throw invalid(`weight ${JSON.stringify(w.name.slice(0, 80))} declares ${elements} elements (absurd shape [${w.shape.join(",")}]); at most ${TFJS_LIMITS.weightElements}`);
      weightBytes += elements * DTYPE_BYTES[dtype];
      if (weightBytes > TFJS_LIMITS.totalBytes) throw invalid(`the weights declare more than ${TFJS_LIMITS.totalBytes / 2 ** 30} GiB`);
      weights.push({ name: w.name, shape: w.shape as number[], dtype: dtype as WeightSpec["dtype"] });
    }
  }
  if (shards.length > TFJS_LIMITS.shards) throw invalid(`more than ${TFJS_LIMITS.shards} weight shards`);
  return { format, modelTopology: topology, shards, weights, weightBytes };
}
