/**
 * Converts a plain sequential ONNX convnet (Conv with symmetric pads, Relu, GlobalAveragePool,
 * Flatten after it, Gemm, BatchNormalization — what fixtures/make_fixtures.py exports) into a TF.js
 * LayersModel with the same weights: model.json + weights.bin, NHWC input. Used to give the fixture
 * encoders a TF.js twin without committing one (tests convert into a temporary directory):
 *
 *   node --import tsx scripts/onnx-to-tfjs.ts fixtures/encoders/target.onnx OUT_DIR [OUTPUT_NAME]
 *
 * Anything outside that op set is refused: this is a fixture tool, not a general converter.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, type NodeProto, type TensorProto } from "onnx-buf";
import * as tf from "@tensorflow/tfjs";

function floats(t: TensorProto): Float32Array {
  if (t.floatData.length > 0) return Float32Array.from(t.floatData);
  const raw = t.rawData;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

const attr = (n: NodeProto, name: string) => n.attribute.find((a) => a.name === name);

/** [O,I,kh,kw] → [kh,kw,I,O] */
function convKernel(w: Float32Array, [o, i, kh, kw]: number[]): tf.Tensor {
  return tf.tensor(w, [o, i, kh, kw]).transpose([2, 3, 1, 0]);
}

export async function onnxToLayersModel(onnx: Uint8Array, outputName: string): Promise<{ modelJson: string; weights: Uint8Array }> {
  await tf.ready(); // a registered backend (e.g. wasm) must be initialized before the first tensor
  const model = fromBinary(ModelProtoSchema, onnx);
  const graph = model.graph!;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const input = graph.input.find((i) => !inits.has(i.name))!;
  const dims = input.type?.value.case === "tensorType" ? input.type.value.value.shape!.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : null)) : [];
  const [, c, h, w] = dims;
  if (c !== 3 || typeof h !== "number" || typeof w !== "number") throw new Error("expected an NCHW [N,3,H,W] input with static H, W");
  const seq = tf.sequential();
  const pending: { layer: tf.layers.Layer; weights: tf.Tensor[] }[] = [];
  let first = true;
  const inputShape = () => (first ? { inputShape: [h, w, 3] } : {});
  const add = (layer: tf.layers.Layer, weights: tf.Tensor[] = []) => {
    seq.add(layer);
    first = false;
    if (weights.length > 0) pending.push({ layer, weights });
  };
  const tensor = (name: string) => {
    const t = inits.get(name);
    if (!t) throw new Error(`initializer ${name} not found`);
    return { data: floats(t), dims: t.dims.map(Number) };
  };
  let afterPool = false;
  for (const node of graph.node) {
    switch (node.opType) {
      case "Conv": {
        const pads = attr(node, "pads")?.ints.map(Number) ?? [0, 0, 0, 0];
        const strides = attr(node, "strides")?.ints.map(Number) ?? [1, 1];
        if (Number(attr(node, "group")?.i ?? 1n) !== 1 || pads[0] !== pads[2] || pads[1] !== pads[3]) throw new Error("only group-1 convs with symmetric pads");
        const k = tensor(node.input[1]);
        if (pads[0] > 0 || pads[1] > 0) add(tf.layers.zeroPadding2d({ padding: [[pads[0], pads[0]], [pads[1], pads[1]]], ...inputShape() }));
        const weights = [convKernel(k.data, k.dims), ...(node.input[2] ? [tf.tensor(tensor(node.input[2]).data)] : [])];
        add(tf.layers.conv2d({ filters: k.dims[0], kernelSize: [k.dims[2], k.dims[3]], strides, padding: "valid", useBias: Boolean(node.input[2]), ...inputShape() }), weights);
        break;
      }
      case "Relu":
        add(tf.layers.reLU());
        break;
      case "GlobalAveragePool":
        add(tf.layers.globalAveragePooling2d({}));
        afterPool = true;
        break;
      case "Flatten":
        if (!afterPool) throw new Error("Flatten only after GlobalAveragePool (NCHW and NHWC flatten orders differ)");
        break;
      case "Gemm": {
        if (Number(attr(node, "transB")?.i ?? 0n) !== 1 || Number(attr(node, "transA")?.i ?? 0n) !== 0) throw new Error("only Gemm with transB=1");
        const wt = tensor(node.input[1]);
        const kernel = tf.tensor(wt.data, wt.dims).transpose();
        add(tf.layers.dense({ units: wt.dims[0], useBias: Boolean(node.input[2]) }), [kernel, ...(node.input[2] ? [tf.tensor(tensor(node.input[2]).data)] : [])]);
        break;
      }
      case "BatchNormalization": {
        const eps = attr(node, "epsilon")?.f ?? 1e-5;
        const [gamma, beta, mean, variance] = node.input.slice(1, 5).map((n) => tf.tensor(tensor(n).data));
        add(tf.layers.batchNormalization({ epsilon: eps, axis: -1 }), [gamma, beta, mean, variance]);
        break;
      }
      case "Constant":
        break;
      default:
        throw new Error(`op ${node.opType} is outside the fixture converter's op set`);
    }
    if (node.output.includes(outputName)) break;
  }
  for (const { layer, weights } of pending) layer.setWeights(weights);
  let saved: tf.io.ModelArtifacts | undefined;
  await seq.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
    }),
  );
  const data = saved!.weightData as ArrayBuffer;
  const modelJson = JSON.stringify({
    format: "layers-model",
    generatedBy: "sslmem scripts/onnx-to-tfjs.ts",
    convertedBy: null,
    modelTopology: saved!.modelTopology,
    weightsManifest: [{ paths: ["weights.bin"], weights: saved!.weightSpecs }],
  });
  return { modelJson, weights: new Uint8Array(data) };
}

export async function writeLayersModel(onnxPath: string, outDir: string, outputName = "embedding"): Promise<void> {
  const { modelJson, weights } = await onnxToLayersModel(new Uint8Array(readFileSync(onnxPath)), outputName);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "model.json"), modelJson);
  writeFileSync(join(outDir, "weights.bin"), weights);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [onnxPath, outDir, outputName] = process.argv.slice(2);
  if (!onnxPath || !outDir) {
    process.stderr.write("usage: node --import tsx scripts/onnx-to-tfjs.ts MODEL.onnx OUT_DIR [OUTPUT_NAME]\n");
    process.exit(1);
  }
  await writeLayersModel(onnxPath, outDir, outputName);
}
