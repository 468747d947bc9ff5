import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as ort from "onnxruntime-node";
import {
  FunctionProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType,
  TensorProtoSchema,
} from "onnx-buf";
import { inspectOnnx } from "../../../src/engine/onnx/inspect.ts";
import { GraphBuilder } from "../../../src/engine/onnx/builder.ts";
import { isSslmemError, type ErrorCode } from "../../../src/core/errors.ts";
import {
  convEncoder,
  customDomainModel,
  externalDataModel,
  stringOutputModel,
  tokenEncoder,
  twoOutputEncoder,
} from "../../helpers/tiny-encoders.ts";

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSslmemError(e), `expected SslmemError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test("summarizes inputs, outputs with symbolic dims, opset, producer and metadata", () => {
  const { bytes } = convEncoder({ channels: 5, dynamicHW: true, metadata: { "sslmem.mean": "0.5,0.5,0.5" } });
  const m = inspectOnnx(bytes);
  assert.deepEqual(m.inputs, [{ name: "image", kind: "tensor", dtype: "float32", dims: ["N", 3, "H", "W"] }]);
  assert.deepEqual(m.outputs, [{ name: "embedding", kind: "tensor", dtype: "float32", dims: ["N", 5] }]);
  assert.equal(m.opset, 17);
  assert.equal(m.irVersion, 8);
  assert.equal(m.producer.name, "sslmem-tests");
  assert.deepEqual(m.metadata, { "sslmem.mean": "0.5,0.5,0.5" });
});

test("lists every output in graph order", () => {
  const m = inspectOnnx(twoOutputEncoder({ channels: 2, height: 8, width: 8 }).bytes);
  assert.deepEqual(
    m.outputs.map((o) => [o.name, o.dims]),
    [
      ["embedding", ["N", 2]],
      ["features", ["N", 2, 8, 8]],
    ],
  );
});

test("refuses empty, foreign and truncated bytes as model_invalid", () => {
  throwsCode(() => inspectOnnx(new Uint8Array(0)), "model_invalid", /empty/);
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  throwsCode(() => inspectOnnx(png), "model_invalid");
  throwsCode(() => inspectOnnx(new TextEncoder().encode("hello, I am not a model")), "model_invalid");
  // Every strict prefix of a model is refused: inside a field the parser fails, at a field
  // boundary the graph or the opset import is missing.
  const { bytes } = tokenEncoder();
  for (let cut = 1; cut < bytes.length; cut += 13) {
    throwsCode(() => inspectOnnx(bytes.subarray(0, cut)), "model_invalid");
  }
});

test("refuses external data before ONNX Runtime sees the model", () => {
  const bytes = externalDataModel("../../etc/passwd");
  throwsCode(() => inspectOnnx(bytes), "model_unsupported", /^external data is not supported; export with all weights inside the file$/);
});

test("finds external data in node attributes too", () => {
  const g = new GraphBuilder("const_external");
  const x = g.input("x", "float", ["N", 2]);
  const value = create(TensorProtoSchema, {
    name: "c",
    dims: [2n],
    dataType: TensorProto_DataType.FLOAT,
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [create(StringStringEntryProtoSchema, { key: "location", value: "/etc/shadow" })],
  });
  const c = g.op1("Constant", [], { value });
  g.op1("Add", [x, c], {}, "y");
  g.output("y", "float", ["N", 2]);
  throwsCode(() => inspectOnnx(g.toModelBytes()), "model_unsupported", /external data/);
});

test("refuses custom operator domains, naming them", () => {
  throwsCode(() => inspectOnnx(customDomainModel("com.example.ops")), "model_unsupported", /"com\.example\.ops"/);
});

test("accepts com.microsoft contrib ops, which ONNX Runtime runs", async () => {
  const g = new GraphBuilder("contrib");
  const x = g.input("x", "float", ["N", 4]);
  g.op("Gelu", [x], {}, ["y"], "com.microsoft");
  g.output("y", "float", ["N", 4]);
  const bytes = g.toModelBytes({ extraOpsets: [{ domain: "com.microsoft", version: 1 }] });
  assert.equal(inspectOnnx(bytes).outputs[0].name, "y");
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ x: new ort.Tensor("float32", Float32Array.from([0, 1, -1, 2]), [1, 4]) });
  assert.ok(Math.abs((r.y.data as Float32Array)[1] - 0.8413) < 1e-3);
});

test("accepts calls to model-local functions in their own domain (torch.onnx exports)", async () => {
  const g = new GraphBuilder("local_fn");
  const x = g.input("x", "float", ["N", 3]);
  g.op("MyRelu", [x], {}, ["y"], "pkg.local");
  g.output("y", "float", ["N", 3]);
  const model = fromBinary(ModelProtoSchema, g.toModelBytes({ extraOpsets: [{ domain: "pkg.local", version: 1 }] }));
  model.functions.push(
    create(FunctionProtoSchema, {
      name: "MyRelu",
      domain: "pkg.local",
      input: ["a"],
      output: ["b"],
      node: [create(NodeProtoSchema, { opType: "Relu", input: ["a"], output: ["b"] })],
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 17n })],
    }),
  );
  const bytes = toBinary(ModelProtoSchema, model);
  assert.equal(inspectOnnx(bytes).outputs.length, 1);
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ x: new ort.Tensor("float32", Float32Array.from([-1, 0, 2]), [1, 3]) });
  assert.deepEqual(Array.from(r.y.data as Float32Array), [0, 0, 2]);

  // …but a function body is checked like the graph.
  model.functions[0].node[0].domain = "com.example.ops";
  throwsCode(() => inspectOnnx(toBinary(ModelProtoSchema, model)), "model_unsupported", /com\.example\.ops/);
});

test("refuses a model without outputs or without a numeric output", () => {
  const model = fromBinary(ModelProtoSchema, convEncoder().bytes);
  model.graph!.output = [];
  throwsCode(() => inspectOnnx(toBinary(ModelProtoSchema, model)), "model_output_invalid", /no outputs/);
  throwsCode(() => inspectOnnx(stringOutputModel(true)), "model_output_invalid", /"label" string/);
  // A string output next to a numeric one is listed, not refused (selection refuses it).
  assert.deepEqual(
    inspectOnnx(stringOutputModel(false)).outputs.map((o) => o.dtype),
    ["float32", "string"],
  );
});

test("refuses element types ONNX Runtime for Node cannot exchange", () => {
  const model = fromBinary(ModelProtoSchema, convEncoder().bytes);
  const t = model.graph!.output[0].type!.value;
  assert.equal(t.case, "tensorType");
  if (t.case === "tensorType") t.value.elemType = TensorProto_DataType.BFLOAT16;
  throwsCode(() => inspectOnnx(toBinary(ModelProtoSchema, model)), "model_unsupported", /bfloat16/);
});
