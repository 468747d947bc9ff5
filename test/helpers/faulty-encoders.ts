/**
 * Encoders that load and pass every static check but fail inside ONNX Runtime at run time, for
 * some inputs only: the "encoder throws mid-audit" fault.
 */
import { TensorProto_DataType } from "onnx-buf";
import { GraphBuilder, floatTensor } from "../../src/engine/onnx/builder.ts";
import { stampedUnit, uniform } from "./tiny-encoders.ts";

/**
 * A pooled conv encoder [N,3,size,size] → [N,C] that also Gathers from a 4-entry table at index
 * floor(4·relu(max over the whole batch)). With ImageNet normalization a batch of dark images
 * (every pixel ≤ ~100/255) has max < 0 → index 0 → runs; a batch holding a bright image
 * (pixel 255 → ≈ 2.6) asks for index ≈ 10 and ORT fails ("indices element out of data bounds").
 * The gathered value is multiplied by 0, so the embedding of a passing batch is the conv's.
 */
export function brightnessBombEncoder(seed = 31, size = 16, channels = 6): Uint8Array {
  const g = new GraphBuilder("brightness_bomb");
  const x = g.input("image", "float", ["N", 3, size, size]);
  const w = g.initializer(floatTensor("conv_w", uniform(seed, channels * 27, 1 / Math.sqrt(27)), [channels, 3, 3, 3]));
  const b = g.initializer(floatTensor("conv_b", uniform(seed + 1, channels, 0.1), [channels]));
  const conv = g.op1("Relu", [g.op1("Conv", [x, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  const pooled = g.op1("Flatten", [g.op1("GlobalAveragePool", [conv])], { axis: 1 });
  const max = g.op1("ReduceMax", [x], { keepdims: 0 });
  const index = g.op1("Cast", [g.op1("Mul", [g.op1("Relu", [max]), g.constFloat(4)])], { to: TensorProto_DataType.INT64 });
  const table = g.initializer(floatTensor("table", [1, 2, 3, 4], [4]));
  const picked = g.op1("Gather", [table, index], { axis: 0 });
  const zero = g.op1("Mul", [picked, g.constFloat(0)]);
  g.op1("Add", [pooled, zero], {}, "embedding");
  g.output("embedding", "float", ["N", channels]);
  return stampedUnit(g.toModelBytes({ opset: 17, producer: "sslmem-tests" }));
}
