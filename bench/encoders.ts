/**
 * Benchmark encoders built in TypeScript with random weights (no download, no torch): a plain
 * convnet of a given size, and torchvision's ResNet-18 architecture (batch norm folded into the
 * convolutions, as an inference export has it), so that the encoder work per view is realistic and
 * the ratio "audit throughput / raw encoder throughput" measures the pipeline's overhead.
 */
import { floatTensor, GraphBuilder } from "../src/engine/onnx/builder.ts";
import { stampedUnit } from "../test/helpers/tiny-encoders.ts";

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function weights(seed: number, n: number, scale: number): Float32Array {
  const r = lcg(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export interface BenchEncoderSpec {
  seed: number;
  size: number;
  /** Output channels of each stage; each stage = stride-2 conv then `depth` stride-1 convs. */
  widths: number[];
  depth: number;
  dim: number;
}

/** ~1.7 GFLOPs per 128×128 view with the default widths — about a ResNet-18 at 224×224. */
export const RESNET18_LIKE: Omit<BenchEncoderSpec, "seed"> = { size: 128, widths: [64, 128, 256, 512], depth: 1, dim: 512 };

/** The size of the fixture encoders (tiny: augmentation and decoding dominate). */
export const TINY: Omit<BenchEncoderSpec, "seed"> = { size: 32, widths: [16, 32, 64], depth: 1, dim: 64 };

export function benchEncoder(spec: BenchEncoderSpec): Uint8Array {
  const g = new GraphBuilder("bench_encoder");
  let x = g.input("image", "float", ["N", 3, spec.size, spec.size]);
  let cin = 3;
  let k = 0;
  const conv = (cout: number, stride: number) => {
    const he = Math.sqrt(2 / (cin * 9));
    const w = g.initializer(floatTensor(`w${k}`, weights(spec.seed * 1000 + k, cout * cin * 9, he), [cout, cin, 3, 3]));
    const b = g.initializer(floatTensor(`b${k}`, new Float32Array(cout), [cout]));
    k++;
    x = g.op1("Relu", [g.op1("Conv", [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] })]);
    cin = cout;
  };
  for (const width of spec.widths) {
    conv(width, 2);
    for (let d = 0; d < spec.depth; d++) conv(width, 1);
  }
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [x])], { axis: 1 });
  const fc = g.initializer(floatTensor("fc", weights(spec.seed * 1000 + 999, cin * spec.dim, 1 / Math.sqrt(cin)), [cin, spec.dim]));
  g.op1("MatMul", [pooled, fc], {}, "embedding");
  g.output("embedding", "float", ["N", spec.dim]);
  return stampedUnit(g.toModelBytes({ opset: 17, producer: "sslmem-bench" }));
}

/** A 64×64 convnet: four stride-2 stages (32…256 channels) with one extra conv each, 128-d output. */
export const CONV64: Omit<BenchEncoderSpec, "seed"> = { size: 64, widths: [32, 64, 128, 256], depth: 1, dim: 128 };

/**
 * torchvision's resnet18 at 224×224 (11.2 M parameters in the trunk, 1.8 GFLOPs per view): 7×7/2
 * stem, 3×3/2 max pool, four stages of two basic blocks (64, 128, 256, 512 channels; 1×1/2
 * projection shortcuts), global average pool, a 512→`dim` linear head. Batch norm is folded into
 * conv weights and biases, as ONNX exports of eval-mode models have it. Random He weights.
 */
export function resnet18(seed: number, dim = 128, size = 224): Uint8Array {
  const g = new GraphBuilder("resnet18");
  let k = 0;
  const conv = (x: string, cin: number, cout: number, kernel: number, stride: number, relu: boolean): string => {
    const he = Math.sqrt(2 / (cin * kernel * kernel));
    const w = g.initializer(floatTensor(`conv${k}.w`, weights(seed * 1000 + k, cout * cin * kernel * kernel, he), [cout, cin, kernel, kernel]));
    const b = g.initializer(floatTensor(`conv${k}.b`, new Float32Array(cout), [cout]));
    k++;
    const p = (kernel - 1) / 2;
    const y = g.op1("Conv", [x, w, b], { kernel_shape: [kernel, kernel], pads: [p, p, p, p], strides: [stride, stride] });
    return relu ? g.op1("Relu", [y]) : y;
  };
  let x = g.input("input", "float", ["N", 3, size, size]);
  x = conv(x, 3, 64, 7, 2, true);
  x = g.op1("MaxPool", [x], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });
  let cin = 64;
  for (const [i, width] of [64, 128, 256, 512].entries()) {
    for (let block = 0; block < 2; block++) {
      const stride = i > 0 && block === 0 ? 2 : 1;
      const shortcut = stride !== 1 || cin !== width ? conv(x, cin, width, 1, stride, false) : x;
      const y = conv(conv(x, cin, width, 3, stride, true), width, width, 3, 1, false);
      x = g.op1("Relu", [g.op1("Add", [y, shortcut])]);
      cin = width;
    }
  }
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [x])], { axis: 1 });
  const fc = g.initializer(floatTensor("fc.w", weights(seed * 1000 + 999, cin * dim, 1 / Math.sqrt(cin)), [cin, dim]));
  g.op1("MatMul", [pooled, fc], {}, "embedding");
  g.output("embedding", "float", ["N", dim]);
  return stampedUnit(g.toModelBytes({ opset: 17, producer: "sslmem-bench" }));
}
