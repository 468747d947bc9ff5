/**
 * An ONNX Runtime session on its own worker thread (src/engine/session-thread.ts): it computes
 * what the same session on the main thread computes, leaves the main thread free while it runs,
 * hands the inputs' arrays back (after a failure too), reports a model ORT cannot load, and ends
 * its thread when released.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import type { PackedInput } from "../../src/engine/augment-graph.ts";
import { floatTensor, GraphBuilder } from "../../src/engine/onnx/builder.ts";
import { SessionRunError, ThreadSession } from "../../src/engine/session-thread.ts";

const OPTIONS: ort.InferenceSession.SessionOptions = { executionProviders: ["cpu"], intraOpNumThreads: 1 };

/** y = MatMul(x [N,64], w [64,64]) repeated `depth` times, and the sum of x. */
function chain(depth: number): Uint8Array {
  const g = new GraphBuilder("chain");
  let x = g.input("x", "float", ["N", 64]);
  g.op1("ReduceSum", [x, g.constInt64([1])], { keepdims: 0 }, "sum");
  g.output("sum", "float", ["N"]);
  const w = g.initializer(floatTensor("w", Array.from({ length: 64 * 64 }, (_, i) => ((i % 7) - 3) / 64), [64, 64]));
  for (let i = 0; i < depth; i++) x = g.op1("Tanh", [g.op1("MatMul", [x, w])]);
  g.op1("Identity", [x], {}, "y");
  g.output("y", "float", ["N", 64]);
  return g.toModelBytes({ opset: 17 });
}

function input(rows: number): Record<string, PackedInput> {
  return { x: { type: "float32", data: Float32Array.from({ length: rows * 64 }, (_, i) => Math.sin(i)), dims: [rows, 64] } };
}

describe("session on a worker thread", () => {
  it("gives the main-thread session's outputs and hands the inputs' arrays back", async () => {
    const model = chain(4);
    const threaded = await ThreadSession.open(model, OPTIONS);
    const direct = await ort.InferenceSession.create(model, OPTIONS);
    try {
      const data = Float32Array.from({ length: 5 * 64 }, (_, i) => Math.sin(i));
      const copy = Float32Array.from(data);
      const { outputs, inputs: back } = await threaded.run({ x: { type: "float32", data, dims: [5, 64] } }, ["y", "sum"]);
      assert.equal(data.byteLength, 0, "the array went to the worker");
      const returned = back.x.data;
      assert.ok(returned instanceof Float32Array);
      assert.deepEqual([...returned], [...copy], "and came back unchanged");
      const want = await direct.run({ x: new ort.Tensor("float32", copy, [5, 64]) });
      for (const name of ["y", "sum"]) {
        const expected = want[name].data;
        assert.ok(expected instanceof Float32Array);
        assert.deepEqual([...outputs[name]], [...expected], name);
      }
    } finally {
      await threaded.release();
      await direct.release();
    }
  });

  it("leaves the main thread free while a run is on the worker", async () => {
    const threaded = await ThreadSession.open(chain(400), OPTIONS);
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const started = performance.now();
      await threaded.run(input(2048), ["sum"]);
      const ms = performance.now() - started;
      clearInterval(timer);
      // A synchronous run on this thread would let no timer fire at all.
      assert.ok(ms > 20, `the run should take a while (${ms.toFixed(1)} ms)`);
      assert.ok(ticks >= 5, `timers fired ${ticks} times during a ${ms.toFixed(1)} ms run`);
    } finally {
      await threaded.release();
    }
  });

  it("rejects a failed run with ORT's message and the inputs' arrays, and keeps running after it", async () => {
    const threaded = await ThreadSession.open(chain(1), OPTIONS);
    try {
      const wrong: Record<string, PackedInput> = { x: { type: "float32", data: new Float32Array(3 * 5), dims: [3, 5] } };
      const error = await threaded.run(wrong, ["y"]).then(
        () => assert.fail("a [3,5] input for a [N,64] graph must fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof SessionRunError);
      assert.match(error.message, /dimension|shape|Got invalid/i);
      assert.equal(error.inputs.x.data.length, 15, "the input's array came back with the failure");
      const { outputs } = await threaded.run(input(1), ["sum"]);
      assert.equal(outputs.sum.length, 1);
    } finally {
      await threaded.release();
    }
  });

  it("rejects a model ONNX Runtime cannot load, and a released session's runs", async () => {
    await assert.rejects(ThreadSession.open(new Uint8Array([1, 2, 3, 4]), OPTIONS), /protobuf|parse|model/i);
    const threaded = await ThreadSession.open(chain(1), OPTIONS);
    await threaded.release();
    await assert.rejects(threaded.run(input(1), ["sum"]), /worker thread ended/);
  });
});
