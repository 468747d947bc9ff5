/**
 * Static checks on an uploaded ONNX model, done on the protobuf before ONNX Runtime sees a byte.
 *
 * Why before ORT: ORT resolves external-data locations relative to the model path and reads them,
 * so an uploaded model could name "../../etc/passwd" as the home of its weights. Refusing every
 * external-data tensor here closes that door whatever ORT does. Refusing custom operator domains
 * here gives a clear message instead of ORT's "not a registered function/op".
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  ModelProtoSchema,
  TensorProto_DataLocation,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type SparseTensorProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from "onnx-buf";
import { SslmemError } from "../../core/errors.ts";

/** A dimension: a static size, a symbolic name ("N", "height"), or null when the model leaves it blank. */
export type Dim = number | string | null;

export type ValueKind = "tensor" | "sequence" | "map" | "optional" | "sparse_tensor" | "unknown";

export interface ValueSummary {
  name: string;
  kind: ValueKind;
  /** Element type in ONNX Runtime's JS spelling ("float32", "uint8", …); null when not a tensor. */
  dtype: string | null;
  /** null when the model does not declare the rank. */
  dims: Dim[] | null;
}

export interface OnnxModelSummary {
  irVersion: number;
  /** Version of the default ("ai.onnx") operator set. */
  opset: number;
  opsets: { domain: string; version: number }[];
  producer: { name: string; version: string };
  /** Graph inputs that are fed at run time (initializer-backed inputs of old IR versions excluded). */
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** The model's metadata_props. */
  metadata: Record<string, string>;
}

/** Operator domains ONNX Runtime implements itself; anything else needs a custom-op library. */
export const ALLOWED_DOMAINS: readonly string[] = ["", "ai.onnx", "ai.onnx.ml", "com.microsoft"];

/** TensorProto.DataType → ORT JS name. Absent codes (bfloat16, complex, float8…) ORT-node cannot expose. */
const DTYPE_NAMES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  21: "uint4",
  22: "int4",
};
const UNSUPPORTED_DTYPE_NAMES: Record<number, string> = {
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
  17: "float8e4m3fn",
  18: "float8e4m3fnuz",
  19: "float8e5m2",
  20: "float8e5m2fnuz",
};

/** Element types usable as a representation (converted to float32 rows). */
export const NUMERIC_DTYPES: ReadonlySet<string> = new Set([
  "float32",
  "float16",
  "float64",
  "int8",
  "uint8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
]);

const MAX_NAME = 80;

/** A model-controlled name, shortened so it cannot flood a message. */
export function quoteName(name: string): string {
  const short = name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name;
  return JSON.stringify(short);
}

export function isNumericTensor(v: ValueSummary): boolean {
  return v.kind === "tensor" && v.dtype !== null && NUMERIC_DTYPES.has(v.dtype);
}

export function formatDims(dims: Dim[] | null): string {
  if (dims === null) return "[?]";
  return `[${dims.map((d) => (d === null ? "?" : String(d))).join(",")}]`;
}

export function inspectOnnx(bytes: Uint8Array): OnnxModelSummary {
  if (bytes.byteLength === 0) {
    throw new SslmemError("model_invalid", "the model file is empty");
  }
  const model = parseModel(bytes);
  const graph = model.graph;
  const defaultOpset = model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx");
  if (graph === undefined || model.irVersion <= 0n || defaultOpset === undefined) {
    // A protobuf parser accepts many byte strings; an ONNX model must at least carry these.
    throw new SslmemError(
      "model_invalid",
      "the file is not an ONNX model (no graph, IR version or opset import); it may be truncated or of another format",
    );
  }

  refuseExternalData(model);
  refuseCustomDomains(model);

  const initialized = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((v) => !initialized.has(v.name)).map(summarizeValue);
  const outputs = graph.output.map(summarizeValue);

  if (outputs.length === 0) {
    throw new SslmemError("model_output_invalid", "the model's graph declares no outputs");
  }
  for (const v of [...inputs, ...outputs]) {
    refuseUnrepresentableType(v, graph);
    refuseImplausibleSize(v, graph);
  }
  if (!outputs.some(isNumericTensor)) {
    throw new SslmemError(
      "model_output_invalid",
      `no output of the model is a numeric tensor (outputs: ${outputs.map(describeValue).join(", ")}); an encoder must output its representation as a float tensor`,
    );
  }

  return {
    irVersion: Number(model.irVersion),
    opset: Number(defaultOpset.version),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) })),
    producer: { name: model.producerName, version: model.producerVersion },
    inputs,
    outputs,
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])),
  };
}

export function describeValue(v: ValueSummary): string {
  const type = v.kind === "tensor" ? (v.dtype ?? "?") : v.kind;
  return `${quoteName(v.name)} ${type}${v.kind === "tensor" ? formatDims(v.dims) : ""}`;
}

function parseModel(bytes: Uint8Array): ModelProto {
  try {
    return fromBinary(ModelProtoSchema, bytes, { readUnknownFields: false });
  } catch (e) {
    throw new SslmemError(
      "model_invalid",
      "the model could not be parsed as ONNX (protobuf); the file may be truncated or of another format",
      undefined,
      { cause: e },
    );
  }
}

function summarizeValue(v: ValueInfoProto): ValueSummary {
  return { name: v.name, ...summarizeType(v.type) };
}

function summarizeType(t: TypeProto | undefined): Omit<ValueSummary, "name"> {
  const value = t?.value;
  if (value === undefined || value.case === undefined) return { kind: "unknown", dtype: null, dims: null };
  switch (value.case) {
    case "tensorType": {
      const elem = value.value.elemType;
      const shape = value.value.shape;
      const dims =
        shape === undefined
          ? null
          : shape.dim.map((d): Dim => {
              if (d.value.case === "dimValue") return Number(d.value.value);
              if (d.value.case === "dimParam" && d.value.value !== "") return d.value.value;
              return null;
            });
      return { kind: "tensor", dtype: DTYPE_NAMES[elem] ?? UNSUPPORTED_DTYPE_NAMES[elem] ?? `type${elem}`, dims };
    }
    case "sequenceType":
      return { kind: "sequence", dtype: null, dims: null };
    case "mapType":
      return { kind: "map", dtype: null, dims: null };
    case "optionalType":
      return { kind: "optional", dtype: null, dims: null };
    case "sparseTensorType":
      return { kind: "sparse_tensor", dtype: null, dims: null };
    default:
      return { kind: "unknown", dtype: null, dims: null };
  }
}

/** ONNX Runtime's Node binding cannot describe these element types: it fails while loading. */
function refuseUnrepresentableType(v: ValueSummary, graph: GraphProto): void {
  if (v.kind !== "tensor" || v.dtype === null || Object.values(DTYPE_NAMES).includes(v.dtype)) return;
  const where = graph.output.some((o) => o.name === v.name) ? "output" : "input";
  throw new SslmemError(
    "model_unsupported",
    `${where} ${quoteName(v.name)} has element type ${v.dtype}, which ONNX Runtime for Node cannot exchange; export it as float32`,
  );
}

/**
 * Most values one example (one view, or one representation row) may declare: 2^26 floats, 256 MiB.
 * The largest view sslmem builds is 3×4096×4096 (50M); a static shape beyond this bound is a
 * hostile or broken export, and sizing buffers from it would fail with a RangeError (or exhaust
 * memory) instead of refusing the model.
 */
export const MAX_VALUES_PER_EXAMPLE = 2 ** 26;

/**
 * Static sizes the engine sizes buffers and loops from. A zero or negative dimension is a broken
 * export (a static batch of 0 would make the batching loop spin forever); an absurd one, a bomb.
 */
function refuseImplausibleSize(v: ValueSummary, graph: GraphProto): void {
  if (v.kind !== "tensor" || v.dims === null) return;
  const where = graph.output.some((o) => o.name === v.name) ? "output" : "input";
  const bad = v.dims.find((d) => typeof d === "number" && d < 1);
  if (bad !== undefined) {
    throw new SslmemError("model_invalid", `${where} ${quoteName(v.name)} declares shape ${formatDims(v.dims)}, with a dimension of ${bad}; every static dimension must be at least 1`);
  }
  // The first axis is the batch; a static batch multiplies the buffers too.
  let perExample = 1;
  for (const d of v.dims.slice(1)) if (typeof d === "number") perExample *= d;
  const batch = typeof v.dims[0] === "number" ? v.dims[0] : 1;
  if (perExample > MAX_VALUES_PER_EXAMPLE || batch * perExample > 4 * MAX_VALUES_PER_EXAMPLE) {
    throw new SslmemError(
      "model_unsupported",
      `${where} ${quoteName(v.name)} declares shape ${formatDims(v.dims)}, more than ${MAX_VALUES_PER_EXAMPLE} values per example; export the encoder with its real input size and representation`,
    );
  }
}

// ---- external data -------------------------------------------------------------------------

function refuseExternalData(model: ModelProto): void {
  const offending = findExternalTensor(model);
  if (offending !== null) {
    throw new SslmemError(
      "model_unsupported",
      "external data is not supported; export with all weights inside the file",
      { tensor: offending.slice(0, MAX_NAME) },
    );
  }
}

function isExternal(t: TensorProto | undefined): boolean {
  return t !== undefined && (t.dataLocation === TensorProto_DataLocation.EXTERNAL || t.externalData.length > 0);
}

function externalInSparse(s: SparseTensorProto): boolean {
  return isExternal(s.values) || isExternal(s.indices);
}

/** Name of the first tensor anywhere in the model (subgraphs, functions, training info) stored outside it. */
function findExternalTensor(model: ModelProto): string | null {
  const graphs: GraphProto[] = [];
  if (model.graph) graphs.push(model.graph);
  for (const ti of model.trainingInfo) {
    if (ti.initialization) graphs.push(ti.initialization);
    if (ti.algorithm) graphs.push(ti.algorithm);
  }
  const nodes: NodeProto[] = model.functions.flatMap((f) => f.node);
  // Iterative walk: a hostile model can nest subgraphs deeply enough to overflow recursion.
  while (graphs.length > 0 || nodes.length > 0) {
    const g = graphs.pop();
    if (g !== undefined) {
      for (const t of g.initializer) if (isExternal(t)) return t.name || "(unnamed)";
      for (const s of g.sparseInitializer) if (externalInSparse(s)) return s.values?.name || "(unnamed)";
      nodes.push(...g.node);
      continue;
    }
    const n = nodes.pop()!;
    for (const a of n.attribute) {
      const hit = externalInAttribute(a);
      if (hit !== null) return hit;
      if (a.g) graphs.push(a.g);
      graphs.push(...a.graphs);
    }
  }
  return null;
}

function externalInAttribute(a: AttributeProto): string | null {
  const tensors = [...(a.t ? [a.t] : []), ...a.tensors];
  for (const t of tensors) if (isExternal(t)) return t.name || a.name;
  const sparse = [...(a.sparseTensor ? [a.sparseTensor] : []), ...a.sparseTensors];
  for (const s of sparse) if (externalInSparse(s)) return a.name;
  return null;
}

// ---- operator domains ----------------------------------------------------------------------

function refuseCustomDomains(model: ModelProto): void {
  // Model-local functions (torch.onnx exports put them in their own domains) are defined in the
  // file itself, so calls to them are fine; their bodies are checked like the main graph.
  const localFunctions = new Set(model.functions.map((f) => `${f.domain}\u0000${f.name}`));
  const custom = new Set<string>();
  const graphs: GraphProto[] = model.graph ? [model.graph] : [];
  const nodes: NodeProto[] = model.functions.flatMap((f) => f.node);
  while (graphs.length > 0 || nodes.length > 0) {
    const g = graphs.pop();
    if (g !== undefined) {
      nodes.push(...g.node);
      continue;
    }
    const n = nodes.pop()!;
    if (!ALLOWED_DOMAINS.includes(n.domain) && !localFunctions.has(`${n.domain}\u0000${n.opType}`)) custom.add(n.domain);
    for (const a of n.attribute) {
      if (a.g) graphs.push(a.g);
      graphs.push(...a.graphs);
    }
  }
  if (custom.size > 0) {
    const list = [...custom].slice(0, 5).map(quoteName).join(", ");
    throw new SslmemError(
      "model_unsupported",
      `the model uses custom operator domain(s) ${list}; only standard ONNX operators (and com.microsoft contrib ops) are supported — export without custom ops`,
      { domains: [...custom].slice(0, 5) },
    );
  }
}
