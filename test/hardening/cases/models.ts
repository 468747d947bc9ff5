/**
 * Hostile and broken encoders, sent as the target (or the reference) of an otherwise valid audit
 * through the real engine. Models are checked when the audit runs, so each one is accepted (202)
 * and the audit must end `failed` with the code below.
 */
import assert from "node:assert/strict";
import { HARDENING_LIMITS } from "../support/server.ts";
import { digestOf } from "../support/context.ts";
import { convEncoder, customDomainModel, externalDataModel, nanEncoder, stringOutputModel, twoInputModel, twoOutputEncoder, uint8InputModel, unknownOpModel } from "../../helpers/tiny-encoders.ts";
import {
  deeplyNestedModel,
  declaredWidthModel,
  externalInSubgraphModel,
  infModel,
  inputShapeModel,
  noOutputModel,
  tensorNotModel,
  validTarget,
} from "./inputs.ts";
import type { CaseContext, HostileCase } from "./types.ts";
import { writeTar } from "../../helpers/data-tar.ts";
import { writeZip } from "../../helpers/data-zip.ts";
import { tinyConvGraphModel, tinyConvWeights } from "../../helpers/tiny-graph-model.ts";

/** The model is built when the case runs, not when the suite loads. */
const asTarget = (build: () => Uint8Array) => (ctx: CaseContext) => ctx.audit({ target: build() });
const asPair = (build: () => Uint8Array) => (ctx: CaseContext) => {
  const bytes = build();
  return ctx.audit({ target: bytes, reference: bytes });
};

/** The refusal must come from the static inspection, never from ONNX Runtime reading the file. */
const refusedBeforeOrt = (detail: string) => {
  assert.match(detail, /external data is not supported/, "refused by the static check, not by ONNX Runtime");
  assert.doesNotMatch(detail, /root:|passwd|environ|\/etc\/|\.\.\//, "nothing of the referenced file (or its location) is echoed");
};

/** The tiny conv GraphModel's files (model.json text, shard), for TF.js encoder blobs. */
function graphModelFiles(mutate: (m: Record<string, any>) => void = () => {}): { json: Buffer; shard: Buffer } {
  const { modelJson, weights } = tinyConvGraphModel(tinyConvWeights(5));
  mutate(modelJson);
  return { json: Buffer.from(JSON.stringify(modelJson)), shard: Buffer.from(weights) };
}

export const MODEL_CASES: HostileCase[] = [
  {
    id: "M01",
    category: "model",
    input: "target is a text file, not ONNX",
    layer: "engine: inspect (protobuf parse)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => new TextEncoder().encode("def forward(x):\n    return x  # a Python file, not a model\n")),
  },
  {
    id: "M02",
    category: "model",
    input: "target is a valid model truncated to half its bytes",
    layer: "engine: inspect (protobuf parse)",
    expect: { kind: "failed", code: "model_invalid" },
    run: (ctx) => {
      const bytes = validTarget();
      return ctx.audit({ target: bytes.subarray(0, Math.floor(bytes.length / 2)) });
    },
  },
  {
    id: "M03",
    category: "model",
    input: "target is an empty (0-byte) upload",
    layer: "engine: inspect",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => new Uint8Array(0)),
  },
  {
    id: "M04",
    category: "model",
    input: "valid protobuf that is not a model (a serialized TensorProto)",
    layer: "engine: inspect (no graph / opset)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => tensorNotModel()),
  },
  {
    id: "M05",
    category: "model",
    input: "valid graph that declares no outputs",
    layer: "engine: inspect",
    expect: { kind: "failed", code: "model_output_invalid" },
    run: asTarget(() => noOutputModel()),
  },
  {
    id: "M06",
    category: "model",
    input: "only output is a string tensor",
    layer: "engine: inspect",
    expect: { kind: "failed", code: "model_output_invalid" },
    run: asTarget(() => stringOutputModel(true)),
  },
  {
    id: "M07",
    category: "model",
    input: "outputs are NaN for every input (target and reference)",
    layer: "engine: representation check after the first run",
    expect: { kind: "failed", code: "model_output_invalid" },
    detail: /contains NaN/,
    checks: "detail says NaN",
    run: asPair(() => nanEncoder({ channels: 4 }).bytes),
  },
  {
    id: "M08",
    category: "model",
    input: "outputs are +Inf for every input (1 / 0)",
    layer: "engine: representation check after the first run",
    expect: { kind: "failed", code: "model_output_invalid" },
    detail: /infinite value/,
    checks: "detail says infinite",
    run: asPair(() => infModel()),
  },
  {
    id: "M09",
    category: "model",
    input: "input has 5 channels ([N,5,16,16]): no RGB axis",
    layer: "engine: encoder contract",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asPair(() => inputShapeModel(["N", 5, 16, 16])),
  },
  {
    id: "M10",
    category: "model",
    input: "input of rank 2 ([N,768]): not an image batch",
    layer: "engine: encoder contract",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asPair(() => inputShapeModel(["N", 768])),
  },
  {
    id: "M11",
    category: "model",
    input: "config inputSize 32×32 contradicts the model's fixed 16×16 input",
    layer: "engine: preprocessing contract",
    expect: { kind: "failed", code: "invalid_config" },
    run: (ctx) => ctx.audit({ config: { views: 2, preprocessing: { inputSize: { height: 32, width: 32 } } } }),
  },
  {
    id: "M12",
    category: "model",
    input: "config layout NHWC for an NCHW model (channel axis would be 16 wide)",
    layer: "engine: preprocessing contract",
    expect: { kind: "failed", code: "invalid_config" },
    run: (ctx) => ctx.audit({ config: { views: 2, preprocessing: { layout: "NHWC" } } }),
  },
  {
    id: "M13",
    category: "model",
    input: "input with symbolic H×W and no inputSize in the config",
    layer: "engine: preprocessing contract",
    expect: { kind: "failed", code: "preprocessing_required" },
    run: asPair(() => convEncoder({ dynamicHW: true, channels: 4 }).bytes),
  },
  {
    id: "M14",
    category: "model",
    input: "input declares a 100000×100000 image (views of 120 GB)",
    layer: "engine: inspect (declared sizes)",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asPair(() => inputShapeModel(["N", 3, 100_000, 100_000])),
  },
  {
    id: "M15",
    category: "model",
    input: "output declares 10^12 values per view with a static batch of 1",
    layer: "engine: inspect (declared sizes)",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asPair(() => declaredWidthModel(1e12, 1)),
  },
  {
    id: "M29",
    category: "model",
    input: "input declares a static batch of 0 ([0,3,16,16]) — before the fix, the batching loop spun forever",
    layer: "engine: inspect (declared sizes)",
    expect: { kind: "failed", code: "model_invalid" },
    detail: /dimension of 0/,
    run: asPair(() => inputShapeModel([0, 3, 16, 16])),
  },
  {
    id: "M30",
    category: "model",
    input: "output declares a negative width ([1,-4])",
    layer: "engine: inspect (declared sizes)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asPair(() => declaredWidthModel(-4, 1)),
  },
  {
    id: "M16",
    category: "model",
    input: "target and reference give representations of different widths (4 vs 6)",
    layer: "engine: compatibility",
    expect: { kind: "failed", code: "encoders_incompatible" },
    run: (ctx) => ctx.audit({ target: convEncoder({ channels: 4 }).bytes, reference: convEncoder({ channels: 6 }).bytes }),
  },
  {
    id: "M17",
    category: "model",
    input: "target takes 16×16, reference takes 32×32",
    layer: "engine: compatibility",
    expect: { kind: "failed", code: "encoders_incompatible" },
    run: (ctx) => ctx.audit({ target: convEncoder({ channels: 4 }).bytes, reference: convEncoder({ channels: 4, height: 32, width: 32 }).bytes }),
  },
  {
    id: "M18",
    category: "model",
    input: "external-data initializer at ../../etc/passwd",
    layer: "engine: inspect, before ONNX Runtime",
    expect: { kind: "failed", code: "model_unsupported" },
    detail: refusedBeforeOrt,
    checks: "detail is the static refusal (inspect.ts), not ONNX Runtime's; the location is not echoed",
    run: asTarget(() => externalDataModel("../../etc/passwd")),
  },
  {
    id: "M19",
    category: "model",
    input: "external-data initializer at the absolute path /etc/passwd",
    layer: "engine: inspect, before ONNX Runtime",
    expect: { kind: "failed", code: "model_unsupported" },
    detail: refusedBeforeOrt,
    checks: "as M18",
    run: asTarget(() => externalDataModel("/etc/passwd")),
  },
  {
    id: "M20",
    category: "model",
    input: "external-data tensor hidden in an If node's then-branch subgraph (../../../proc/self/environ)",
    layer: "engine: inspect (walks subgraphs), before ONNX Runtime",
    expect: { kind: "failed", code: "model_unsupported" },
    detail: refusedBeforeOrt,
    checks: "as M18",
    run: asTarget(() => externalInSubgraphModel("../../../proc/self/environ")),
  },
  {
    id: "M21",
    category: "model",
    input: "node in custom operator domain com.example.ops (needs a native library)",
    layer: "engine: inspect, before ONNX Runtime",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asTarget(() => customDomainModel()),
  },
  {
    id: "M22",
    category: "model",
    input: "standard-domain op type that does not exist (NotAnOnnxOp)",
    layer: "engine: ONNX Runtime load",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asTarget(() => unknownOpModel()),
  },
  {
    id: "M23",
    category: "model",
    input: "uint8 image input",
    layer: "engine: encoder contract",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asTarget(() => uint8InputModel()),
  },
  {
    id: "M24",
    category: "model",
    input: "two graph inputs (image and mask)",
    layer: "engine: encoder contract",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asTarget(() => twoInputModel()),
  },
  {
    id: "M25",
    category: "model",
    input: "graph nested 20000 subgraphs deep (parser stack exhaustion)",
    layer: "engine: inspect (protobuf parse)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => deeplyNestedModel(20_000)),
  },
  {
    id: "M26",
    category: "model",
    input: "metadata sslmem.std = 0,0,0 (division by zero in normalization)",
    layer: "engine: declared preprocessing",
    expect: { kind: "failed", code: "model_invalid" },
    run: asPair(() => convEncoder({ channels: 4, metadata: { "sslmem.std": "0,0,0" } }).bytes),
  },
  {
    id: "M27",
    category: "model",
    input: "config outputName names an output the model does not have",
    layer: "engine: representation",
    expect: { kind: "failed", code: "model_output_invalid" },
    run: (ctx) => ctx.audit({ config: { views: 2, outputName: "../../secret" } }),
  },
  {
    id: "M31",
    category: "model",
    input: "config pool \"cls\" on a [N,C,H,W] feature-map output",
    layer: "engine: representation (pooling vs declared rank)",
    expect: { kind: "failed", code: "invalid_config" },
    detail: /pooling "cls"/,
    checks: "detail names the pooling",
    run: (ctx) => {
      const bytes = twoOutputEncoder({ channels: 4 }).bytes;
      return ctx.audit({ target: bytes, reference: bytes, config: { views: 2, outputName: "features", pool: "cls" } });
    },
  },
  {
    id: "M32",
    category: "model",
    input: "target a TF.js model .tar with a ../group1-shard1of1.bin member",
    layer: "engine: TF.js model archive (member names)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: asTarget(() => {
      const { json, shard } = graphModelFiles();
      return writeTar([{ name: "model.json", data: json }, { name: "../group1-shard1of1.bin", data: shard }]);
    }),
  },
  {
    id: "M33",
    category: "model",
    input: "target a TF.js model .zip whose weight shard lies outside model.json's folder",
    layer: "engine: TF.js model archive (shards next to model.json)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => {
      const { json, shard } = graphModelFiles();
      return writeZip([{ name: "m/model.json", data: json }, { name: "group1-shard1of1.bin", data: shard }]);
    }),
  },
  {
    id: "M34",
    category: "model",
    input: "target a TF.js GraphModel .zip with an op TF.js does not know (a custom op)",
    layer: "engine: model.json checks, before TensorFlow.js loads it",
    expect: { kind: "failed", code: "model_unsupported" },
    run: asTarget(() => {
      const { json, shard } = graphModelFiles((m) => (m.modelTopology.node.find((n: { op: string }) => n.op === "Relu").op = "MyCustomOp"));
      return writeZip([{ name: "model.json", data: json }, { name: "group1-shard1of1.bin", data: shard }]);
    }),
  },
  {
    id: "M35",
    category: "model",
    input: "target a .zip that holds no model.json (not a TF.js model, not ONNX)",
    layer: "engine: encoder format (from the blob's content)",
    expect: { kind: "failed", code: "model_invalid" },
    run: asTarget(() => writeZip([{ name: "notes.txt", data: Buffer.from("no model here") }])),
  },
  {
    id: "M28",
    category: "model",
    input: "target over the blob size limit (2 MiB + 1 byte)",
    layer: "upload: PUT /v1/blobs, Content-Length checked before reading",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    run: (ctx) => {
      const bytes = new Uint8Array(HARDENING_LIMITS.maxBlobBytes + 1);
      return ctx.request(`/v1/blobs/${digestOf(bytes)}`, { method: "PUT", body: bytes, headers: { "content-type": "application/octet-stream" } });
    },
  },
];
