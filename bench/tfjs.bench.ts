/**
 * TF.js encoder throughput per backend (part of `npm run bench`): the fixture target encoder
 * converted to a TF.js LayersModel (scripts/onnx-to-tfjs.ts) embeds batches of 64 views at 32×32
 * on each TF.js backend that loads here (wasm, cpu; tfjs-node / tfjs-node-gpu when installed),
 * against ONNX Runtime (CPU) on the same views, in one process. Prints views/s per backend.
 * Also the views themselves: SimCLR views of 32×32 images made with tf ops on each backend
 * (src/engine/tfjs/tf-augment.ts, what a TF.js audit uses), alone and followed by the encoder,
 * against the ONNX augmentation graph on ONNX Runtime (CPU).
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
import { PRESETS } from "../src/core/policy.ts";
import { viewStream } from "../src/core/rng.ts";
import { sampleViewsForPoint } from "../src/core/view-params.ts";
import { Augmenter } from "../src/engine/augmenter.ts";
import { loadTfjs } from "../src/engine/tfjs/backend.ts";
import { TfAugmenter } from "../src/engine/tfjs/tf-augment.ts";

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
  // A batch as an audit makes one: 8 points × 8 SimCLR views (views 4, pairing "views") = 64 views.
  const size = { height: 32, width: 32 };
  const rng = viewStream(1, "bench-images", 0);
  const batch = Array.from({ length: N / 8 }, (_, p) => ({
    image: { ...size, data: Uint8Array.from({ length: 32 * 32 * 3 }, () => rng.randint(256)) },
    views: sampleViewsForPoint(PRESETS.simclr, "views", 1, `p${p}`, 4, size, size),
  }));
  const prep = { out: size, mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.25, 0.25, 0.25] as [number, number, number], range: [0, 1] as [number, number] };
  await loadTfjs(); // the process's choice first; each backend below is then set explicitly
  const timed = async (name: string, run: () => Promise<void>) => {
    await run();
    const start = performance.now();
    for (let b = 0; b < batches; b++) await run();
    rows.push([name, (batches * N) / ((performance.now() - start) / 1000)]);
  };
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
    await timed(`tfjs/${backend}`, run);
    const augmenter = await TfAugmenter.create(prep);
    await timed(`tfjs/${backend} views`, async () => {
      const v = augmenter.run(batch);
      await v.data();
      v.dispose();
    });
    await timed(`tfjs/${backend} views+enc`, async () => {
      const v = augmenter.run(batch);
      const y = model.predict(v) as tf.Tensor;
      await y.data();
      v.dispose();
      y.dispose();
    });
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
  const graph = await Augmenter.create({ policy: PRESETS.simclr, ...prep, layout: "NCHW", executionProviders: ["cpu"] });
  await timed("onnxruntime/cpu views", async () => void (await graph.runBatch(batch)));
  await graph.release();
  console.log(`\nTF.js encoder throughput — fixture encoder 32×32, batches of ${N} views, ${batches} batches, ${availableParallelism()} cores`);
  console.log("(views: SimCLR views made alone — tf ops for tfjs/*, the ONNX augmentation graph for onnxruntime; views+enc: tf views fed to the encoder on the backend)");
  for (const [name, vps] of rows) console.log(`${name.padEnd(26)} ${vps.toFixed(1).padStart(10)} views/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
