/**
 * Which intermediate tensors of the encoders LayerMem measures (Wang et al., "Localizing
 * Memorization in SSL Vision Encoders", NeurIPS 2024), and their shapes.
 *
 * `auto` picks the **block outputs** of the target's graph, in topological order:
 *  1. when the graph has residual additions — an `Add`/`Sum` whose inputs are two or more values
 *     computed from the image (not initializers or constants) — each such addition is a block
 *     output; when its only consumer is an element-wise activation (ResNet's Add → Relu), the
 *     activation's output is taken instead;
 *  2. otherwise (a plain feed-forward network), each activation that follows a Conv, Gemm or
 *     MatMul (through a BatchNormalization or a bias Add) is a layer output.
 * Only values the representation depends on count; the representation output itself always comes
 * last (LayerMem of the last layer is the audit's score). At most MAX_LAYERS are kept, spread
 * evenly over the depth when there are more.
 *
 * Target and reference are matched by name: `auto` and a plain NAME need the same value name in
 * both graphs (true for two trainings of one architecture); a `T=R` pair maps a target value to a
 * reference value when the exports named them differently.
 */
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import * as ort from "onnxruntime-node";
import { ModelProtoSchema, TensorProto_DataType, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema, type GraphProto, type ModelProto } from "onnx-buf";
import type { LayerSelection } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { Encoder } from "./encoder.ts";
import { quoteName } from "./onnx/inspect.ts";
import { poolRows, tensorToFloat32, type Pooling } from "./representation.ts";

/** Most layers one audit measures: each adds a pooling and distances per view to the batch graph. */
export const MAX_LAYERS = 32;

const ACTIVATIONS = new Set(["Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softplus", "Mish", "Clip"]);
const LINEAR = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul"]);

/** One measured layer: a display name and the value it taps in each encoder. */
export interface LayerPair {
  name: string;
  target: string;
  reference: string;
  /** The representation output (the last layer). */
  final: boolean;
}

/** A layer value with its shape (batch axis first, from a probe run) and pooled width. */
export interface LayerTap {
  value: string;
  dims: number[];
  dtype: string;
  /** Width of one pooled row. */
  dim: number;
}

export interface ResolvedLayer extends LayerPair {
  targetTap: LayerTap;
  referenceTap: LayerTap;
}

interface GraphIndex {
  producer: Map<string, { opType: string; inputs: string[]; index: number }>;
  consumers: Map<string, string[]>;
  /** Values computed from the image input. */
  computed: Set<string>;
}

function indexGraph(graph: GraphProto): GraphIndex {
  const constants = new Set([...graph.initializer.map((t) => t.name), ...graph.sparseInitializer.map((s) => s.values?.name ?? "")]);
  const inputs = new Set(graph.input.map((v) => v.name).filter((n) => !constants.has(n)));
  const producer: GraphIndex["producer"] = new Map();
  const consumers: GraphIndex["consumers"] = new Map();
  const computed = new Set(inputs);
  graph.node.forEach((node, index) => {
    const inputsOf = node.input.filter((n) => n !== "");
    for (const i of inputsOf) consumers.set(i, [...(consumers.get(i) ?? []), node.opType]);
    const fromImage = inputsOf.some((i) => computed.has(i));
    for (const o of node.output) {
      if (o === "") continue;
      producer.set(o, { opType: node.opType, inputs: inputsOf, index });
      if (fromImage) computed.add(o);
    }
  });
  return { producer, consumers, computed };
}

/** Values `output` depends on. */
function ancestors(index: GraphIndex, output: string): Set<string> {
  const seen = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push(...(index.producer.get(v)?.inputs ?? []));
  }
  return seen;
}

/** Does `value` come from a Conv/Gemm/MatMul, through at most a BatchNormalization or a bias Add? */
function followsLinear(index: GraphIndex, value: string, hops = 2): boolean {
  const p = index.producer.get(value);
  if (p === undefined) return false;
  if (LINEAR.has(p.opType)) return true;
  if (hops === 0) return false;
  if (p.opType === "BatchNormalization" || (p.opType === "Add" && p.inputs.filter((i) => index.computed.has(i)).length === 1)) {
    return followsLinear(index, p.inputs.find((i) => index.computed.has(i)) ?? "", hops - 1);
  }
  return false;
}

/** The `auto` block outputs of a graph for the representation `output` (rule in the file comment). */
export function autoLayerNames(model: ModelProto, output: string): string[] {
  const graph = model.graph;
  if (!graph) return [output];
  const index = indexGraph(graph);
  const needed = ancestors(index, output);
  const single = (v: string) => {
    const uses = index.consumers.get(v) ?? [];
    const consumer = graph.node.find((n) => n.input.includes(v));
    return uses.length === 1 && consumer && ACTIVATIONS.has(consumer.opType) ? consumer.output[0] : v;
  };
  const residual: string[] = [];
  const activations: string[] = [];
  for (const node of graph.node) {
    const out = node.output[0];
    if (out === undefined || out === "" || !needed.has(out)) continue;
    const computedInputs = node.input.filter((i) => index.computed.has(i));
    if ((node.opType === "Add" || node.opType === "Sum") && computedInputs.length >= 2) residual.push(single(out));
    if (ACTIVATIONS.has(node.opType) && followsLinear(index, computedInputs[0] ?? "")) activations.push(out);
  }
  const chosen = (residual.length > 0 ? residual : activations).filter((v) => v !== output);
  return [...spread([...new Set(chosen)], MAX_LAYERS - 1), output];
}

/** At most `n` items of `items`, evenly spaced, the last one kept. */
function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.round(((i + 1) * items.length) / n) - 1]);
}

function parse(bytes: Uint8Array): ModelProto {
  try {
    return fromBinary(ModelProtoSchema, bytes);
  } catch {
    throw new SslmemError("model_invalid", "the encoder could not be parsed to find its layers");
  }
}

function checkValue(index: GraphIndex, value: string, role: "target" | "reference"): void {
  // (UnitMem has one encoder and calls it the target in messages: the encoder under audit.)
  if (!index.producer.has(value)) {
    throw new SslmemError("invalid_config", `layers: the ${role} encoder has no value named ${quoteName(value)} produced by a node; name ONNX node outputs (e.g. from netron), or map target to reference names with TARGET=REFERENCE`, { layer: value, encoder: role });
  }
  if (!index.computed.has(value)) {
    throw new SslmemError("invalid_config", `layers: ${quoteName(value)} of the ${role} encoder does not depend on the image (a constant); it cannot be a layer`, { layer: value, encoder: role });
  }
}

/**
 * The layer pairs of a selection, in the target's topological order, the representation last.
 * Refuses names either encoder lacks, with the names `auto` would have chosen as a hint.
 */
/** LayerMem on a TF.js side: refused (the layers are extra outputs of the composed ONNX graph). */
export function layersNeedOnnx(): SslmemError {
  return new SslmemError("invalid_config", "layers (LayerMem) need both encoders in ONNX: they run inside the composed ONNX graph");
}

export function selectLayers(targetBytes: Uint8Array, referenceBytes: Uint8Array, selection: LayerSelection, outputs: { target: string; reference: string }): LayerPair[] {
  const targetModel = parse(targetBytes);
  const referenceModel = parse(referenceBytes);
  const t = indexGraph(targetModel.graph!);
  const r = indexGraph(referenceModel.graph!);
  let pairs: { target: string; reference: string }[];
  if (selection === "auto") {
    pairs = autoLayerNames(targetModel, outputs.target).map((name) => ({ target: name, reference: name === outputs.target ? outputs.reference : name }));
    const missing = pairs.filter((p) => !r.producer.has(p.reference)).map((p) => quoteName(p.reference));
    if (missing.length > 0) {
      throw new SslmemError(
        "encoders_incompatible",
        `layers auto: the reference encoder lacks ${missing.length} of the target's block outputs (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}); list the layers with TARGET=REFERENCE pairs instead`,
      );
    }
  } else {
    pairs = selection.map((s) => (typeof s === "string" ? { target: s, reference: s } : s));
    if (!pairs.some((p) => p.target === outputs.target)) pairs.push({ target: outputs.target, reference: outputs.reference });
  }
  for (const p of pairs) {
    checkValue(t, p.target, "target");
    checkValue(r, p.reference, "reference");
  }
  const order = (v: string) => (v === outputs.target ? Infinity : t.producer.get(v)!.index);
  const unique = [...new Map(pairs.map((p) => [p.target, p])).values()].sort((a, b) => order(a.target) - order(b.target));
  if (unique.length > MAX_LAYERS) throw new SslmemError("invalid_config", `layers: at most ${MAX_LAYERS} layers per audit, got ${unique.length}`);
  return unique.map((p) => ({ name: p.target === p.reference ? p.target : `${p.target}=${p.reference}`, target: p.target, reference: p.reference, final: p.target === outputs.target }));
}

/** The model with `values` declared as extra graph outputs (their types from value_info, else float). */
export function exposeValues(bytes: Uint8Array, values: readonly string[]): Uint8Array {
  const model = parse(bytes);
  const graph = model.graph!;
  const declared = new Set(graph.output.map((o) => o.name));
  const known = new Map(graph.valueInfo.map((v) => [v.name, v]));
  for (const value of values) {
    if (declared.has(value)) continue;
    declared.add(value);
    graph.output.push(
      known.get(value) ??
        create(ValueInfoProtoSchema, {
          name: value,
          type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType: TensorProto_DataType.FLOAT }) } }),
        }),
    );
  }
  return toBinary(ModelProtoSchema, model);
}

/** A session of the encoder with its layer values as outputs (the probe and the host reference path). */
export async function openLayerSession(bytes: Uint8Array, values: readonly string[], executionProviders: readonly ort.InferenceSession.ExecutionProviderConfig[], threads?: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(exposeValues(bytes, values), {
      executionProviders: [...executionProviders],
      graphOptimizationLevel: "all",
      ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    });
  } catch (e) {
    throw new SslmemError("model_unsupported", "ONNX Runtime could not expose the chosen layers of the encoder", undefined, { cause: e });
  }
}

/** Shapes of `values` from one run on zero views; refuses a layer the pooling cannot make rows of. */
export async function probeLayerTaps(session: ort.InferenceSession, encoder: Encoder, values: readonly string[], pool: Pooling): Promise<LayerTap[]> {
  const batch = encoder.info.input.batch ?? 1;
  const feeds = { [encoder.info.input.name]: new ort.Tensor("float32", new Float32Array(batch * encoder.viewSize), [batch, ...encoder.viewShape]) };
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await session.run(feeds, [...values]);
  } catch (e) {
    throw new SslmemError("model_unsupported", "ONNX Runtime could not compute the chosen layers of the encoder", undefined, { cause: e });
  }
  return values.map((value) => {
    const tensor = result[value];
    const dims = tensor.dims.map(Number);
    if (dims[0] !== batch) throw new SslmemError("invalid_config", `layers: ${quoteName(value)} has shape [${dims.join(",")}]; a layer's first axis must be the batch`);
    const rows = poolRows(tensorToFloat32(tensor), dims, pool, value);
    return { value, dims, dtype: tensor.type, dim: rows.dim };
  });
}

/** The chosen layers with the shapes of both encoders' values (one probe run per encoder). */
export async function resolveLayers(
  selection: LayerSelection,
  target: { bytes: Uint8Array; encoder: Encoder },
  reference: { bytes: Uint8Array; encoder: Encoder },
  opts: { pool: Pooling; executionProviders: readonly ort.InferenceSession.ExecutionProviderConfig[]; threads?: number },
): Promise<ResolvedLayer[]> {
  const pairs = selectLayers(target.bytes, reference.bytes, selection, { target: target.encoder.output.name, reference: reference.encoder.output.name });
  const probe = async (side: { bytes: Uint8Array; encoder: Encoder }, values: string[]) => {
    const session = await openLayerSession(side.bytes, values, opts.executionProviders, opts.threads);
    try {
      return await probeLayerTaps(session, side.encoder, values, opts.pool);
    } finally {
      await session.release();
    }
  };
  const targetTaps = await probe(target, pairs.map((p) => p.target));
  const referenceTaps = await probe(reference, pairs.map((p) => p.reference));
  return pairs.map((p, i) => ({ ...p, targetTap: targetTaps[i], referenceTap: referenceTaps[i] }));
}

/** The layers of one encoder (UnitMem): `auto` or value names, in topological order, validated. */
export function selectEncoderLayers(bytes: Uint8Array, selection: "auto" | readonly string[], output: string): string[] {
  const model = parse(bytes);
  const index = indexGraph(model.graph!);
  const names = selection === "auto" ? autoLayerNames(model, output) : [...new Set(selection)];
  for (const name of names) checkValue(index, name, "target");
  const order = (v: string) => index.producer.get(v)!.index;
  return names.sort((a, b) => order(a) - order(b));
}
