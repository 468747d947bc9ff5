/**
 * Encoders that pass every static check and load, but cost what no budget allows once ONNX
 * Runtime runs them: a `Loop` that never ends, and a graph that allocates gigabytes per run. Both
 * feed the pooled conv embedding through `+ 0 × (hostile value)`, so ORT cannot prune the hostile
 * part, and both depend on the input image, so ORT cannot constant-fold it at load.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { GraphBuilder, floatTensor } from "../../src/engine/onnx/builder.ts";
import { uniform } from "./tiny-encoders.ts";

function pooledConv(g: GraphBuilder, seed: number, channels: number): { x: string; pooled: string } {
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const w = g.initializer(floatTensor("conv_w", uniform(seed, channels * 27, 1 / Math.sqrt(27)), [channels, 3, 3, 3]));
  const b = g.initializer(floatTensor("conv_b", uniform(seed + 1, channels, 0.1), [channels]));
  const conv = g.op1("Relu", [g.op1("Conv", [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  return { x, pooled: g.op1("Flatten", [g.op1("GlobalAveragePool", [conv])], { axis: 1 }) };
}

const scalarInfo = (name: string, elemType: TensorProto_DataType) =>
  create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape: create(TensorShapeProtoSchema, { dim: [] }) }) },
    }),
  });

/** A Loop with no trip count whose condition stays true: the first run never returns. */
export function endlessLoopEncoder(seed = 41, channels = 4): Uint8Array {
  const g = new GraphBuilder("endless_loop");
  const { x, pooled } = pooledConv(g, seed, channels);
  const start = g.op1("ReduceMean", [x], { keepdims: 0 }, "loop_start");
  const zeroed = g.op1("Mul", ["loop_end", g.constFloat(0)]);
  g.op1("Add", [pooled, zeroed], {}, "embedding");
  g.output("embedding", "float", ["N", channels]);
  const model = fromBinary(ModelProtoSchema, g.toModelBytes({ opset: 17, producer: "sslmem-tests" }));
  const body = create(GraphProtoSchema, {
    name: "forever",
    input: [scalarInfo("i", TensorProto_DataType.INT64), scalarInfo("cond_in", TensorProto_DataType.BOOL), scalarInfo("v_in", TensorProto_DataType.FLOAT)],
    output: [scalarInfo("cond_out", TensorProto_DataType.BOOL), scalarInfo("v_out", TensorProto_DataType.FLOAT)],
    node: [
      create(NodeProtoSchema, { opType: "Identity", input: ["cond_in"], output: ["cond_out"] }),
      create(NodeProtoSchema, { opType: "Identity", input: ["v_in"], output: ["v_out"] }),
    ],
  });
  const graph = model.graph!;
  graph.initializer.push(create(TensorProtoSchema, { name: "always", dims: [], dataType: TensorProto_DataType.BOOL, int32Data: [1] }));
  // Inserted right after the node that makes its input, keeping the graph topologically sorted.
  const at = graph.node.findIndex((n) => n.output.includes(start)) + 1;
  graph.node.splice(
    at,
    0,
    create(NodeProtoSchema, {
      opType: "Loop",
      input: ["", "always", start],
      output: ["loop_end"],
      attribute: [create(AttributeProtoSchema, { name: "body", type: AttributeProto_AttributeType.GRAPH, g: body })],
    }),
  );
  return toBinary(ModelProtoSchema, model);
}

/**
 * Every run expands one value of the image into `values` floats (4 × values bytes, written, then
 * summed): a few hundred bytes of model that need gigabytes to run.
 */
export function memoryHogEncoder(values = 2 ** 28, seed = 43, channels = 4): Uint8Array {
  const g = new GraphBuilder("memory_hog");
  const { x, pooled } = pooledConv(g, seed, channels);
  const mean = g.op1("ReduceMean", [x], { keepdims: 0 });
  const big = g.op1("Expand", [mean, g.constInt64([values])]);
  const sum = g.op1("ReduceSum", [big], { keepdims: 0 });
  g.op1("Add", [pooled, g.op1("Mul", [sum, g.constFloat(0)])], {}, "embedding");
  g.output("embedding", "float", ["N", channels]);
  return g.toModelBytes({ opset: 17, producer: "sslmem-tests" });
}
