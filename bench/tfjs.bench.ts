/**
 * TF.js encoder throughput per backend (part of `npm run bench`): the fixture target encoder
 * converted to a TF.js LayersModel (scripts/onnx-to-tfjs.ts) embeds batches of 64 views at 32×32
 * on each TF.js backend that loads here (wasm, cpu; tfjs-node / tfjs-node-gpu when installed),
 * against ONNX Runtime (CPU) on the same views, in one process. Prints views/s per backend.
 *
 * Options: --batches N (default 10)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { writeLayersModel } from "../scripts/onnx-to-tfjs.ts";

const { values } = parseArgs({ options: { batches: { type: "string", default: "10" } } });
const batches = Number(values.batches);
const root = new URL("..", import.meta.url).pathname;
const onnxPath = join(root, "fixtures/encoders/target.onnx");
const dir = mkdtempSync(join(tmpdir(), "sslmem-tfjs-bench-"));
const N = 64;
try {
  await writeLayersModel(onnxPath, dir);
  const nhwc = new Float32Array(N * 32 * 32 * 3).map((_, i) => Math.sin(i) * 0.5);
  const rows: [string, number][] = [];
  for (const backend of ["wasm", "cpu"]) {
    if (!(await tf.setBackend(backend))) continue;
    await tf.ready();
    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    const weights = readFileSync(join(dir, "weights.bin"));
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
    const run = async () => {
      const x = tf.tensor(nhwc, [N, 32, 32, 3]);
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      x.dispose();
      y.dispose();
    };
    await run();
    const start = performance.now();
    for (let b = 0; b < batches; b++) await run();
    rows.push([`tfjs/${backend}`, (batches * N) / ((performance.now() - start) / 1000)]);
    model.dispose();
  }
  const session = await ort.InferenceSession.create(readFileSync(onnxPath), { executionProviders: ["cpu"], intraOpNumThreads: availableParallelism() });
  const nchw = new Float32Array(N * 3 * 32 * 32).map((_, i) => Math.sin(i) * 0.5);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", nchw, [N, 3, 32, 32]) };
  await session.run(feeds);
  const start = performance.now();
  for (let b = 0; b < batches; b++) await session.run(feeds);
  rows.push(["onnxruntime/cpu", (batches * N) / ((performance.now() - start) / 1000)]);
  await session.release();
  console.log(`\nTF.js encoder throughput — fixture encoder 32×32, batches of ${N} views, ${batches} batches, ${availableParallelism()} cores`);
  for (const [name, vps] of rows) console.log(`${name.padEnd(18)} ${vps.toFixed(1).padStart(10)} views/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
