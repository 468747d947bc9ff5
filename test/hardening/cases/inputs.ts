/**
 * The bytes the cases send: a valid tiny encoder pair and candidate set (what every case that
 * attacks one input keeps for the others), and builders of hostile models and images.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
} from "onnx-buf";
import { GraphBuilder, floatTensor, type Dim } from "../../../src/engine/onnx/builder.ts";
import { encodePng } from "../../helpers/data-png.ts";
import { writeTar, type TarEntry } from "../../helpers/data-tar.ts";
import { convEncoder, convNet, seededRandom, stampedUnit, uniform } from "../../helpers/tiny-encoders.ts";

/** The audits' config: two view pairs, so an accepted case costs milliseconds. */
export const CHEAP_CONFIG = { views: 2, seed: 7 } as const;

export const validTarget = (): Uint8Array => convNet({ seed: 11, height: 16, width: 16, widths: [4], dim: 6 });
export const validReference = (): Uint8Array => convNet({ seed: 23, height: 16, width: 16, widths: [4], dim: 6 });

/** A w×h RGB PNG of seeded noise. */
export function noisePng(width: number, height: number, seed: number): Buffer {
  const rand = seededRandom(seed);
  return encodePng({ width, height, colorType: 2, samples: Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256)) });
}

/** The candidate set every case keeps unless it attacks the candidates: four 20×20 PNGs in a tar. */
export function validCandidates(): Buffer {
  return writeTar([0, 1, 2, 3].map((i) => ({ name: `set/img-${i}.png`, data: noisePng(20, 20, 100 + i) })));
}

export function tarOf(entries: TarEntry[], opts?: { endBlocks?: boolean }): Buffer {
  return writeTar(entries, opts);
}

/** A tar of `members` plus one valid image, so the attacked member is what decides the outcome. */
export function tarWithValid(...members: TarEntry[]): Buffer {
  return writeTar([{ name: "ok.png", data: noisePng(20, 20, 1) }, ...members]);
}

// ---- hostile models --------------------------------------------------------------------------

/** conv → pool → flatten on an NCHW 16×16 input, ending in `tail` (which names the output). */
function pooledGraph(name: string, tail: (g: GraphBuilder, pooled: string) => void, input: Dim[] = ["N", 3, 16, 16]): Uint8Array {
  const g = new GraphBuilder(name);
  const x = g.input("image", "float", input);
  const w = g.initializer(floatTensor("w", uniform(5, 4 * 27, 0.2), [4, 3, 3, 3]));
  const y = g.op1("Relu", [g.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [y])], { axis: 1 });
  tail(g, pooled);
  return stampedUnit(g.toModelBytes({ opset: 17 }));
}

/** A valid graph whose outputs list is empty. */
export function noOutputModel(): Uint8Array {
  return pooledGraph("no_outputs", (g, pooled) => void g.op1("Identity", [pooled], {}, "embedding"));
}

/** Every component +Inf: 1 / (0 · x). */
export function infModel(): Uint8Array {
  return pooledGraph("inf_output", (g, pooled) => {
    const zero = g.op1("Mul", [pooled, g.constFloat(0)]);
    g.op1("Div", [g.constFloat(1), zero], {}, "embedding");
    g.output("embedding", "float", ["N", 4]);
  });
}

/** A model that declares its input as `dims` (the graph itself pools whatever it gets). */
export function inputShapeModel(dims: Dim[]): Uint8Array {
  const g = new GraphBuilder("odd_input");
  const x = g.input("image", "float", dims);
  const axes = dims.length === 4 ? [2, 3] : [dims.length - 1];
  const pooled = g.op1("ReduceMean", [x, g.constInt64(axes)], { keepdims: 0 });
  g.op1("Identity", [pooled], {}, "embedding");
  g.output("embedding", "float", ["N", typeof dims[1] === "number" ? dims[1] : "C"]);
  return stampedUnit(g.toModelBytes({ opset: 18 }));
}

/** A valid encoder whose output *declares* `width` values per view (it really gives 4). */
export function declaredWidthModel(width: number, batch?: number): Uint8Array {
  const b: Dim = batch ?? "N";
  return pooledGraph("declared_width", (g, pooled) => {
    g.op1("Identity", [pooled], {}, "embedding");
    g.output("embedding", "float", [b, width]);
  }, [b, 3, 16, 16]);
}

function externalTensor(name: string, location: string) {
  return create(TensorProtoSchema, {
    name,
    dims: [4n],
    dataType: TensorProto_DataType.FLOAT,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [
      create(StringStringEntryProtoSchema, { key: "location", value: location }),
      create(StringStringEntryProtoSchema, { key: "offset", value: "0" }),
      create(StringStringEntryProtoSchema, { key: "length", value: "16" }),
    ],
  });
}

/**
 * A valid encoder with an extra If node whose then-branch holds an external-data initializer at
 * `location`: the reference hides in a subgraph, where only a full walk finds it.
 */
export function externalInSubgraphModel(location: string): Uint8Array {
  const model = fromBinary(ModelProtoSchema, convEncoder({ seed: 3, channels: 4 }).bytes);
  const branch = (withExternal: boolean) =>
    create(GraphProtoSchema, {
      name: withExternal ? "then" : "else",
      initializer: withExternal ? [externalTensor("hidden_w", location)] : [floatTensor("plain_w", [0, 0, 0, 0], [4])],
      output: [],
      node: [
        create(NodeProtoSchema, {
          opType: "Identity",
          input: [withExternal ? "hidden_w" : "plain_w"],
          output: [withExternal ? "then_out" : "else_out"],
        }),
      ],
    });
  const graph = model.graph!;
  graph.initializer.push(create(TensorProtoSchema, { name: "cond", dims: [], dataType: TensorProto_DataType.BOOL, int32Data: [1] }));
  graph.node.push(
    create(NodeProtoSchema, {
      opType: "If",
      input: ["cond"],
      output: ["unused"],
      attribute: [
        create(AttributeProtoSchema, { name: "then_branch", type: AttributeProto_AttributeType.GRAPH, g: branch(true) }),
        create(AttributeProtoSchema, { name: "else_branch", type: AttributeProto_AttributeType.GRAPH, g: branch(false) }),
      ],
    }),
  );
  return toBinary(ModelProtoSchema, model);
}

/** Valid protobuf that is not a model: a serialized TensorProto. */
export function tensorNotModel(): Uint8Array {
  return toBinary(TensorProtoSchema, floatTensor("weights", [1, 2, 3, 4], [4]));
}

/**
 * A model whose graph nests `depth` If-subgraphs inside each other, written directly as protobuf
 * (each level: NodeProto.attribute(5) → AttributeProto.g(6) → GraphProto.node(1)): a parser that
 * recurses per level runs out of stack long before the bytes run out.
 */
export function deeplyNestedModel(depth: number): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (tag: number, body: Buffer) => Buffer.concat([varint((tag << 3) | 2), varint(body.length), body]);
  const head = (tag: number, length: number) => Buffer.concat([varint((tag << 3) | 2), varint(length)]);
  // node_k = prefix_k ‖ node_(k−1): the innermost node is a suffix of every level, so only the
  // prefixes are built (lengths first) and joined once — linear, where nesting concatenations
  // would copy the growing message at every level.
  let node = field(4, Buffer.from("Identity")); // NodeProto.op_type
  let length = node.length;
  const prefixes: Buffer[] = [];
  const opType = field(4, Buffer.from("If"));
  const name = field(1, Buffer.from("then_branch"));
  for (let i = 0; i < depth; i++) {
    const graphHead = head(1, length); // GraphProto.node
    const graphLength = graphHead.length + length;
    const attrHead = Buffer.concat([name, head(6, graphLength)]); // AttributeProto.name, .g
    const attrLength = attrHead.length + graphLength;
    const prefix = Buffer.concat([opType, head(5, attrLength), attrHead, graphHead]); // NodeProto.op_type, .attribute
    prefixes.push(prefix);
    length += prefix.length;
  }
  node = Buffer.concat([...prefixes.reverse(), node]);
  const graph = field(1, node);
  const opset = Buffer.concat([Buffer.from([0x10]), varint(17)]); // OperatorSetIdProto.version = 17
  // ModelProto: ir_version (1) = 8, opset_import (8), graph (7)
  return Buffer.concat([Buffer.from([0x08, 0x08]), field(8, opset), field(7, graph)]);
}
