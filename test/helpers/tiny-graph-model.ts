/**
 * A tiny conv encoder written as a TF.js GraphModel (model.json with a GraphDef topology + one
 * weight shard) from known weights, without the python converter: the same JSON tensorflowjs_converter
 * emits for conv3x3(SAME) → BiasAdd → Relu → Mean over H, W → MatMul. And the same network as a
 * LayersModel (Keras topology), so a test can hold one to the other.
 */
import type * as tfType from "@tensorflow/tfjs";

export interface TinyConvWeights {
  /** Input H = W. */
  size: number;
  /** [3, 3, 3, channels] HWIO. */
  kernel: Float32Array;
  bias: Float32Array;
  /** [channels, dim]. */
  dense: Float32Array;
  channels: number;
  dim: number;
}

/** Deterministic weights from a seed (a small LCG: no dependence on Math.random). */
export function tinyConvWeights(seed: number, size = 12, channels = 6, dim = 5): TinyConvWeights {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => next() * scale);
  return { size, channels, dim, kernel: fill(27 * channels, 0.6), bias: fill(channels, 0.2), dense: fill(channels * dim, 1), };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const float = { type: "DT_FLOAT" };

function constNode(name: string, shape: number[], dtype: "DT_FLOAT" | "DT_INT32" = "DT_FLOAT") {
  return { name, op: "Const", attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims(shape) } } } };
}

/** model.json (as an object, to be mutated by hostile tests) and the weight shard of the GraphModel. */
export function tinyConvGraphModel(w: TinyConvWeights): { modelJson: Record<string, any>; weights: Uint8Array } {
  const node = [
    { name: "images", op: "Placeholder", attr: { dtype: float, shape: { shape: dims([-1, w.size, w.size, 3]) } } },
    constNode("conv/kernel", [3, 3, 3, w.channels]),
    constNode("conv/bias", [w.channels]),
    constNode("pool/axes", [2], "DT_INT32"),
    constNode("dense/kernel", [w.channels, w.dim]),
    {
      name: "conv/Conv2D",
      op: "Conv2D",
      input: ["images", "conv/kernel"],
      attr: { T: float, strides: { list: { i: ["1", "1", "1", "1"] } }, padding: { s: b64("SAME") }, data_format: { s: b64("NHWC") }, dilations: { list: { i: ["1", "1", "1", "1"] } }, use_cudnn_on_gpu: { b: true }, explicit_paddings: { list: {} } },
    },
    { name: "conv/BiasAdd", op: "BiasAdd", input: ["conv/Conv2D", "conv/bias"], attr: { T: float, data_format: { s: b64("NHWC") } } },
    { name: "conv/Relu", op: "Relu", input: ["conv/BiasAdd"], attr: { T: float } },
    { name: "pool/Mean", op: "Mean", input: ["conv/Relu", "pool/axes"], attr: { T: float, Tidx: { type: "DT_INT32" }, keep_dims: { b: false } } },
    { name: "embedding", op: "MatMul", input: ["pool/Mean", "dense/kernel"], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
  ];
  const specs = [
    { name: "conv/kernel", shape: [3, 3, 3, w.channels], dtype: "float32", data: w.kernel },
    { name: "conv/bias", shape: [w.channels], dtype: "float32", data: w.bias },
    { name: "pool/axes", shape: [2], dtype: "int32", data: Int32Array.of(1, 2) },
    { name: "dense/kernel", shape: [w.channels, w.dim], dtype: "float32", data: w.dense },
  ];
  const weights = Buffer.concat(specs.map((s) => Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength)));
  const modelJson = {
    format: "graph-model",
    generatedBy: "sslmem test/helpers/tiny-graph-model.ts",
    convertedBy: null,
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: specs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  return { modelJson, weights: new Uint8Array(weights) };
}

/** The same network as a LayersModel: model.json text and weights, through TF.js's own serializer. */
export async function tinyConvLayersModel(tf: typeof tfType, w: TinyConvWeights): Promise<{ modelJson: string; weights: Uint8Array }> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [w.size, w.size, 3], filters: w.channels, kernelSize: 3, padding: "same", activation: "relu", name: "conv" }),
      tf.layers.globalAveragePooling2d({ name: "pool" }),
      tf.layers.dense({ units: w.dim, useBias: false, name: "dense" }),
    ],
  });
  model.setWeights([tf.tensor4d(w.kernel, [3, 3, 3, w.channels]), tf.tensor1d(w.bias), tf.tensor2d(w.dense, [w.channels, w.dim])]);
  let out: { modelJson: string; weights: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(0);
      out = {
        modelJson: JSON.stringify({ format: "layers-model", modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }] }),
        weights: bytes,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  model.dispose();
  if (!out || out.weights.length === 0) throw new Error("the LayersModel was not serialized");
  return out;
}
