/**
 * Composing ONNX models into one graph: an encoder's graph is copied into a GraphBuilder with every
 * value and node name prefixed (so two encoders, even the same file twice, cannot collide), its
 * image input wired to a value of the host graph, and only the nodes its chosen output needs kept.
 *
 * One graph has one version per operator domain, so an encoder exported at a lower opset than the
 * composed graph is upgraded: the ops whose interface changed between the two versions are
 * rewritten (Reduce* `axes` attribute → input at 18, equal Split → `num_outputs` at 18). Ops whose
 * meaning changed in a way that cannot be rewritten, opsets below 13, local functions and
 * conflicting custom-domain versions make `composable` say why not: the caller then chains sessions.
 */
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType, AttributeProtoSchema, type AttributeProto, type GraphProto, type ModelProto, type NodeProto } from "onnx-buf";
import { int64Tensor, type GraphBuilder } from "./builder.ts";
import { convertToFloat16 } from "./float16.ts";

/** Lowest default-domain opset an encoder may have to be composed (see the file comment). */
export const MIN_COMPOSE_OPSET = 13;
/** Highest opset the composed graph is emitted at (what ONNX Runtime 1.30 runs). */
export const MAX_COMPOSE_OPSET = 21;

const DEFAULT_DOMAINS = new Set(["", "ai.onnx"]);

/** Reduce ops whose `axes` became an input at opset 18 (ReduceSum already at 13). */
const REDUCE_AXES_AT_18 = new Set(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);

/** Ops whose meaning changed at a version (not only new attributes or types): no rewrite here. */
const CHANGED_AT: Record<string, number> = { GridSample: 20, DFT: 20, GroupNormalization: 21 };

export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => DEFAULT_DOMAINS.has(o.domain));
  return entry ? Number(entry.version) : 1;
}

function walkNodes(graph: GraphProto | undefined, visit: (node: NodeProto) => void): void {
  for (const node of graph?.node ?? []) {
    visit(node);
    for (const a of node.attribute) {
      if (a.g) walkNodes(a.g, visit);
      for (const sub of a.graphs) walkNodes(sub, visit);
    }
  }
}

/** Why `models` cannot be composed into one graph at `opset`, or null when they can. */
export function composable(models: readonly ModelProto[], opset: number): string | null {
  if (opset > MAX_COMPOSE_OPSET) return `opset ${opset} is above ${MAX_COMPOSE_OPSET}, the highest the composed graph is built at`;
  const domains = new Map<string, number>();
  for (const model of models) {
    const own = defaultOpset(model);
    if (own < MIN_COMPOSE_OPSET) return `an encoder uses opset ${own}; composing needs ${MIN_COMPOSE_OPSET} or later`;
    if (model.functions.length > 0) return "an encoder defines local functions";
    for (const o of model.opsetImport) {
      if (DEFAULT_DOMAINS.has(o.domain)) continue;
      const seen = domains.get(o.domain);
      if (seen !== undefined && seen !== Number(o.version)) return `the encoders import domain ${o.domain} at different versions`;
      domains.set(o.domain, Number(o.version));
    }
    let reason: string | null = null;
    walkNodes(model.graph, (node) => {
      const changed = CHANGED_AT[node.opType];
      if (reason === null && DEFAULT_DOMAINS.has(node.domain) && changed !== undefined && own < changed && opset >= changed) {
        reason = `${node.opType} changed meaning at opset ${changed} (the encoder uses ${own})`;
      }
    });
    if (reason !== null) return reason;
  }
  return null;
}

/** Custom-domain opset imports of `models` (for the composed model's opset_import). */
export function extraOpsets(models: readonly ModelProto[]): { domain: string; version: number }[] {
  const out = new Map<string, number>();
  for (const m of models) for (const o of m.opsetImport) if (!DEFAULT_DOMAINS.has(o.domain)) out.set(o.domain, Number(o.version));
  return [...out].map(([domain, version]) => ({ domain, version }));
}

function intsAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

/** Rewrites, in place, the nodes of one graph level whose interface changed between `from` and `to`. */
function upgradeNodes(graph: GraphProto, from: number, to: number, constant: (values: bigint[]) => string): void {
  for (const node of graph.node) {
    if (DEFAULT_DOMAINS.has(node.domain) && from < 18 && to >= 18) {
      if (REDUCE_AXES_AT_18.has(node.opType)) {
        const axes = intsAttribute(node, "axes");
        if (axes) {
          node.attribute = node.attribute.filter((a) => a !== axes);
          node.input = [node.input[0], constant(axes.ints)];
        }
      } else if (node.opType === "Split" && (node.input.length < 2 || node.input[1] === "") && !intsAttribute(node, "num_outputs")) {
        node.attribute.push(create(AttributeProtoSchema, { name: "num_outputs", type: AttributeProto_AttributeType.INT, i: BigInt(node.output.length) }));
      }
    }
    for (const a of node.attribute) {
      if (a.g) upgradeNodes(a.g, from, to, constant);
      for (const sub of a.graphs) upgradeNodes(sub, from, to, constant);
    }
  }
}

/** Every name a graph's nodes read, its subgraphs' reads included (outer-scope references). */
function namesRead(node: NodeProto): string[] {
  const out = [...node.input];
  for (const a of node.attribute) {
    for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) walkNodes(sub, (n) => out.push(...n.input));
  }
  return out.filter((n) => n !== "");
}

/** The nodes `outputs` depend on, in their original (topological) order. */
function neededNodes(graph: GraphProto, outputs: readonly string[]): NodeProto[] {
  const producer = new Map<string, NodeProto>();
  for (const node of graph.node) for (const o of node.output) if (o !== "") producer.set(o, node);
  const keep = new Set<NodeProto>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const node = producer.get(stack.pop()!);
    if (node === undefined || keep.has(node)) continue;
    keep.add(node);
    stack.push(...namesRead(node));
  }
  return graph.node.filter((n) => keep.has(n));
}

function renameGraph(graph: GraphProto, rename: (name: string) => string): void {
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) v.name = rename(v.name);
  for (const t of graph.initializer) t.name = rename(t.name);
  for (const s of graph.sparseInitializer) {
    if (s.values) s.values.name = rename(s.values.name);
    if (s.indices) s.indices.name = rename(s.indices.name);
  }
  for (const node of graph.node) {
    node.name = node.name === "" ? "" : rename(node.name);
    node.input = node.input.map(rename);
    node.output = node.output.map(rename);
    for (const a of node.attribute) {
      if (a.g) renameGraph(a.g, rename);
      for (const sub of a.graphs) renameGraph(sub, rename);
    }
  }
}

/**
 * Copies `model`'s graph into `g`: names prefixed with `prefix`, the image input `inputName` read
 * from `source`, nodes upgraded from the model's opset to `opset`, only what `output` needs kept.
 * `model` is consumed (mutated). Returns the name of `output` in `g`.
 */
export function appendEncoder(
  g: GraphBuilder,
  model: ModelProto,
  opts: {
    prefix: string;
    inputName: string;
    source: string;
    output: string;
    opset: number;
    float16?: boolean;
    /** More values to keep (LayerMem taps), named `prefix + name`. */
    alsoKeep?: readonly string[];
  },
): string {
  const graph = model.graph;
  if (!graph) throw new Error("model has no graph");
  const own = defaultOpset(model);
  const kept = neededNodes(graph, [opts.output, ...(opts.alsoKeep ?? [])]);
  graph.node = kept;
  const initializerNames = new Set([...graph.initializer.map((t) => t.name), ...graph.sparseInitializer.map((s) => s.values?.name ?? "")]);
  const used = new Set(kept.flatMap(namesRead));
  graph.initializer = graph.initializer.filter((t) => used.has(t.name));
  graph.sparseInitializer = graph.sparseInitializer.filter((s) => used.has(s.values?.name ?? ""));
  // Encoder value_info are shape hints whose symbolic dims need not agree with the host graph's.
  graph.valueInfo = [];
  const rename = (name: string) => (name === "" ? "" : name === opts.inputName && !initializerNames.has(name) ? opts.source : `${opts.prefix}${name}`);
  renameGraph(graph, rename);
  // After renaming: the axes constants it adds are named in `g` already.
  upgradeNodes(graph, own, opts.opset, (values) => g.initializer(int64Tensor(g.fresh(`${opts.prefix}axes`), values.map(Number), [values.length])));
  if (opts.float16) convertToFloat16(graph.node, graph.initializer);
  g.addGraphContents(graph.node, graph.initializer, graph.sparseInitializer);
  return rename(opts.output);
}
