/**
 * Tiny random ONNX encoders built in TypeScript, deterministic from a seed. They exercise the
 * shapes real encoders have ([N,D], [N,T,D] with a cls token, [N,C,H,W], NHWC input, dynamic H×W,
 * static batch, several outputs, NaN output) at a size that loads and runs in milliseconds.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, StringStringEntryProtoSchema, TensorProto_DataLocation, TensorProto_DataType, TensorProtoSchema } from "onnx-buf";
import { GraphBuilder, floatTensor, type Dim } from "../../src/engine/onnx/builder.ts";

/** mulberry32: a small seeded generator, so a seed always gives the same weights. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(seed: number, length: number, scale: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length }, () => (rnd() * 2 - 1) * scale);
}

export interface TinyEncoderOptions {
  seed?: number;
  /** Conv output channels = representation width for the pooled encoder. */
  channels?: number;
  height?: number;
  width?: number;
  layout?: "NCHW" | "NHWC";
  /** Declare H and W symbolic ("H", "W"). */
  dynamicHW?: boolean;
  /** A static batch size (as exported by torch without dynamic axes); default symbolic "N". */
  batch?: number;
  /** metadata_props to attach (e.g. sslmem.mean). */
  metadata?: Record<string, string>;
  /**
   * The `sslmem.normalize` preset stamped into the model (as `sslmem stamp` does) unless the
   * metadata already says how the input is normalized; default "unit" (the values these random
   * encoders are built for). false: no stamp, so an audit must be told the normalization.
   */
  normalize?: string | false;
  outputName?: string;
}

export interface ConvWeights {
  /** [C,3,3,3] */
  weight: Float32Array;
  /** [C] */
  bias: Float32Array;
  channels: number;
}

export interface TinyEncoder {
  bytes: Uint8Array;
  weights: ConvWeights;
}

function convWeights(seed: number, channels: number): ConvWeights {
  return { weight: uniform(seed, channels * 27, 1 / Math.sqrt(27)), bias: uniform(seed + 7919, channels, 0.1), channels };
}

/** Declares the image input and returns an NCHW value to build on. */
function imageInput(g: GraphBuilder, o: TinyEncoderOptions): string {
  const n: Dim = o.batch ?? "N";
  const h: Dim = o.dynamicHW ? "H" : (o.height ?? 16);
  const w: Dim = o.dynamicHW ? "W" : (o.width ?? 16);
  if (o.layout === "NHWC") {
    const x = g.input("image", "float", [n, h, w, 3]);
    return g.op1("Transpose", [x], { perm: [0, 3, 1, 2] });
  }
  return g.input("image", "float", [n, 3, h, w]);
}

/** 3×3 conv (pad 1, optional stride) → ReLU, NCHW. */
function convRelu(g: GraphBuilder, x: string, cw: ConvWeights, stride = 1): string {
  const w = g.initializer(floatTensor(g.fresh("conv_w"), cw.weight, [cw.channels, 3, 3, 3]));
  const b = g.initializer(floatTensor(g.fresh("conv_b"), cw.bias, [cw.channels]));
  const y = g.op1("Conv", [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] });
  return g.op1("Relu", [y]);
}

const NORMALIZATION_KEYS = ["sslmem.normalize", "sslmem.mean", "sslmem.std", "sslmem.range"];

/** The model with `metadata` added to its metadata_props (what `sslmem stamp` writes). */
export function withMetadata(bytes: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const model = fromBinary(ModelProtoSchema, bytes);
  for (const [key, value] of Object.entries(metadata)) model.metadataProps.push(create(StringStringEntryProtoSchema, { key, value }));
  return toBinary(ModelProtoSchema, model);
}

/** A test model stamped with the normalization its random weights are built for (pixels on [0,1]). */
export function stampedUnit(bytes: Uint8Array): Uint8Array {
  return withMetadata(bytes, { "sslmem.normalize": "unit" });
}

function finish(g: GraphBuilder, o: TinyEncoderOptions): Uint8Array {
  const bytes = g.toModelBytes({ opset: 17, producer: "sslmem-tests" });
  const metadata = { ...o.metadata };
  const declares = NORMALIZATION_KEYS.some((k) => metadata[k] !== undefined);
  if (!declares && o.normalize !== false) metadata["sslmem.normalize"] = o.normalize ?? "unit";
  return Object.keys(metadata).length === 0 ? bytes : withMetadata(bytes, metadata);
}

function hw(o: TinyEncoderOptions): { h: Dim; w: Dim } {
  return { h: o.dynamicHW ? "H" : (o.height ?? 16), w: o.dynamicHW ? "W" : (o.width ?? 16) };
}

/** conv3×3 → relu → global average pool → [N,C] (output "embedding"). */
export function convEncoder(o: TinyEncoderOptions = {}): TinyEncoder {
  const cw = convWeights(o.seed ?? 1, o.channels ?? 8);
  const g = new GraphBuilder("conv_encoder");
  const x = imageInput(g, o);
  const pooled = g.op1("GlobalAveragePool", [convRelu(g, x, cw)]);
  const name = o.outputName ?? "embedding";
  g.op1("Flatten", [pooled], { axis: 1 }, name);
  g.output(name, "float", [o.batch ?? "N", cw.channels]);
  return { bytes: finish(g, o), weights: cw };
}

/** Same pooled embedding, but an output that yields NaN for every input (Sqrt of a negative). */
export function nanEncoder(o: TinyEncoderOptions = {}): TinyEncoder {
  const cw = convWeights(o.seed ?? 1, o.channels ?? 8);
  const g = new GraphBuilder("nan_encoder");
  const x = imageInput(g, o);
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [convRelu(g, x, cw)])], { axis: 1 });
  const negative = g.op1("Sub", [g.constFloat(-1), pooled]); // −1 − relu(·) < 0
  g.op1("Sqrt", [negative], {}, "embedding");
  g.output("embedding", "float", [o.batch ?? "N", cw.channels]);
  return { bytes: finish(g, o), weights: cw };
}

/**
 * ViT-like tokens [N, 1+T, D]: patches from a conv with kernel = stride = `patch`, and a cls
 * token at index 0 equal to the per-component max over the patch tokens (so `cls` differs from
 * `mean`, and tests can compute it from the other tokens).
 */
export function tokenEncoder(o: TinyEncoderOptions & { patch?: number } = {}): { bytes: Uint8Array; tokens: number } {
  const d = o.channels ?? 6;
  const p = o.patch ?? 4;
  const seed = o.seed ?? 2;
  const g = new GraphBuilder("token_encoder");
  const x = imageInput(g, o);
  const w = g.initializer(floatTensor("patch_w", uniform(seed, d * 3 * p * p, 1 / Math.sqrt(3 * p * p)), [d, 3, p, p]));
  const b = g.initializer(floatTensor("patch_b", uniform(seed + 1, d, 0.1), [d]));
  const patches = g.op1("Conv", [x, w, b], { kernel_shape: [p, p], strides: [p, p] });
  const flat = g.op1("Reshape", [patches, g.constInt64([0, d, -1])]); // [N, D, T]
  const tokens = g.op1("Transpose", [flat], { perm: [0, 2, 1] }); // [N, T, D]
  const cls = g.op1("ReduceMax", [tokens], { axes: [1], keepdims: 1 }); // [N, 1, D]
  g.op1("Concat", [cls, tokens], { axis: 1 }, "tokens");
  const { h, w: wd } = hw(o);
  const t = typeof h === "number" && typeof wd === "number" ? (h / p) * (wd / p) : null;
  g.output("tokens", "float", [o.batch ?? "N", t === null ? "T" : t + 1, d]);
  return { bytes: finish(g, o), tokens: t === null ? -1 : t + 1 };
}

/** A feature map [N, C, H/2, W/2] (conv stride 2 → relu), output "features". */
export function featureMapEncoder(o: TinyEncoderOptions = {}): TinyEncoder {
  const cw = convWeights(o.seed ?? 3, o.channels ?? 4);
  const g = new GraphBuilder("feature_map_encoder");
  const x = imageInput(g, o);
  const y = convRelu(g, x, cw, 2);
  g.op1("Identity", [y], {}, "features");
  const { h, w } = hw(o);
  g.output("features", "float", [o.batch ?? "N", cw.channels, typeof h === "number" ? h / 2 : "h", typeof w === "number" ? w / 2 : "w"]);
  return { bytes: finish(g, o), weights: cw };
}

/** Two outputs: "embedding" [N,C] (pooled) and "features" [N,C,H,W] (the map it pools). */
export function twoOutputEncoder(o: TinyEncoderOptions = {}): TinyEncoder {
  const cw = convWeights(o.seed ?? 4, o.channels ?? 5);
  const g = new GraphBuilder("two_output_encoder");
  const x = imageInput(g, o);
  const map = convRelu(g, x, cw);
  g.op1("Flatten", [g.op1("GlobalAveragePool", [map])], { axis: 1 }, "embedding");
  g.op1("Identity", [map], {}, "features");
  const { h, w } = hw(o);
  g.output("embedding", "float", [o.batch ?? "N", cw.channels]);
  g.output("features", "float", [o.batch ?? "N", cw.channels, h, w]);
  return { bytes: finish(g, o), weights: cw };
}

/**
 * A bench-sized convnet: conv3×3 stride 2 stages (widths), ReLU, global pool, linear to `dim`.
 * Tiny next to a ResNet, but enough work per view for thread-pool effects to show.
 */
export function convNet(o: { seed?: number; height?: number; width?: number; widths?: number[]; dim?: number } = {}): Uint8Array {
  const seed = o.seed ?? 5;
  const widths = o.widths ?? [32, 64, 128];
  const dim = o.dim ?? 128;
  const g = new GraphBuilder("conv_net");
  let x = g.input("image", "float", ["N", 3, o.height ?? 64, o.width ?? 64]);
  let cin = 3;
  widths.forEach((cout, i) => {
    const w = g.initializer(floatTensor(`w${i}`, uniform(seed + i, cout * cin * 9, Math.sqrt(6 / (cin * 9))), [cout, cin, 3, 3]));
    const b = g.initializer(floatTensor(`b${i}`, uniform(seed + 100 + i, cout, 0.01), [cout]));
    x = g.op1("Relu", [g.op1("Conv", [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] })]);
    cin = cout;
  });
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [x])], { axis: 1 });
  const fc = g.initializer(floatTensor("fc", uniform(seed + 999, cin * dim, 1 / Math.sqrt(cin)), [cin, dim]));
  g.op1("MatMul", [pooled, fc], {}, "embedding");
  g.output("embedding", "float", ["N", dim]);
  return stampedUnit(g.toModelBytes({ opset: 17, producer: "sslmem-bench" }));
}

/**
 * Plain-TypeScript forward pass of `convEncoder` on one NCHW image: the independent reference
 * that the ORT result is compared with.
 */
export function convEncoderForward(weights: ConvWeights, image: Float32Array, height: number, width: number): Float32Array {
  const { weight, bias, channels } = weights;
  const out = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = bias[c];
        for (let ci = 0; ci < 3; ci++) {
          for (let ky = 0; ky < 3; ky++) {
            const iy = y + ky - 1;
            if (iy < 0 || iy >= height) continue;
            for (let kx = 0; kx < 3; kx++) {
              const ix = x + kx - 1;
              if (ix < 0 || ix >= width) continue;
              v += weight[((c * 3 + ci) * 3 + ky) * 3 + kx] * image[(ci * height + iy) * width + ix];
            }
          }
        }
        sum += Math.max(0, v);
      }
    }
    out[c] = sum / (height * width);
  }
  return out;
}

/** n random NCHW images in [0,1), deterministic from the seed. */
export function randomViews(seed: number, n: number, height: number, width: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: n * 3 * height * width }, () => rnd());
}

/** NCHW → NHWC for a batch of images. */
export function toNhwc(views: Float32Array, n: number, height: number, width: number): Float32Array {
  const out = new Float32Array(views.length);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) out[((i * height + y) * width + x) * 3 + c] = views[((i * 3 + c) * height + y) * width + x];
  return out;
}

// ---- models that must be refused -------------------------------------------------------------

/** A pooled encoder whose conv weight lives "outside the file", at `location`. */
export function externalDataModel(location = "../../etc/passwd"): Uint8Array {
  const g = new GraphBuilder("external_data");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const w = g.initializer(
    create(TensorProtoSchema, {
      name: "conv_w",
      dims: [4n, 3n, 3n, 3n],
      dataType: TensorProto_DataType.FLOAT,
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [
        create(StringStringEntryProtoSchema, { key: "location", value: location }),
        create(StringStringEntryProtoSchema, { key: "offset", value: "0" }),
        create(StringStringEntryProtoSchema, { key: "length", value: String(4 * 27 * 4) }),
      ],
    }),
  );
  const y = g.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.op1("Flatten", [g.op1("GlobalAveragePool", [y])], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", 4]);
  return g.toModelBytes({ opset: 17 });
}

/** An op from a custom domain (as exported with a custom-op library). */
export function customDomainModel(domain = "com.example.ops"): Uint8Array {
  const g = new GraphBuilder("custom_domain");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const y = g.op("FancyPool", [x], {}, 1, domain)[0];
  g.op1("Flatten", [y], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", 3]);
  return g.toModelBytes({ opset: 17, extraOpsets: [{ domain, version: 1 }] });
}

/** A standard-domain op type that no ONNX opset defines. */
export function unknownOpModel(): Uint8Array {
  const g = new GraphBuilder("unknown_op");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  g.op1("NotAnOnnxOp", [x], {}, "embedding");
  g.output("embedding", "float", ["N", 3, 16, 16]);
  return g.toModelBytes({ opset: 17 });
}

/** Outputs: "embedding" float [N,C] and "label" string [N,C]; `onlyString` drops the float one. */
export function stringOutputModel(onlyString = false): Uint8Array {
  const g = new GraphBuilder("string_output");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [x])], { axis: 1 }, "embedding");
  g.op1("Cast", [pooled], { to: TensorProto_DataType.STRING }, "label");
  if (!onlyString) g.output("embedding", "float", ["N", 3]);
  g.output("label", "string", ["N", 3]);
  return stampedUnit(g.toModelBytes({ opset: 17 }));
}

/** Input of another element type (e.g. uint8 images). */
export function uint8InputModel(): Uint8Array {
  const g = new GraphBuilder("uint8_input");
  const x = g.input("image", "uint8", ["N", 3, 16, 16]);
  const f = g.op1("Cast", [x], { to: TensorProto_DataType.FLOAT });
  g.op1("Flatten", [g.op1("GlobalAveragePool", [f])], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", 3]);
  return g.toModelBytes({ opset: 17 });
}

/** Two inputs (image and a mask). */
export function twoInputModel(): Uint8Array {
  const g = new GraphBuilder("two_inputs");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const m = g.input("mask", "float", ["N", 3, 16, 16]);
  g.op1("Flatten", [g.op1("GlobalAveragePool", [g.op1("Mul", [x, m])])], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", 3]);
  return g.toModelBytes({ opset: 17 });
}
