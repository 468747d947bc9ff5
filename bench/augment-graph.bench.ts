/**
 * Time per view of the augmentation graph (ONNX Runtime, CPU here) for a preset at a few sizes.
 *   node --import tsx bench/augment-graph.bench.ts [preset] [views]
 * Prints one line per case: source size, output size, ms per view (median of runs after warm-up).
 */
import { performance } from "node:perf_hooks";
import { PRESETS, type PresetName } from "../src/core/policy.ts";
import { sampleViewsForPoint } from "../src/core/view-params.ts";
import { Augmenter } from "../src/engine/augmenter.ts";

const preset = (process.argv[2] ?? "simclr") as PresetName;
const pairs = Number(process.argv[3] ?? 16);
const cases = [
  { src: { height: 32, width: 32 }, out: { height: 32, width: 32 } },
  { src: { height: 375, width: 500 }, out: { height: 224, width: 224 } },
];

for (const { src, out } of cases) {
  const data = new Uint8Array(src.height * src.width * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const image = { ...src, data };
  const augmenter = await Augmenter.create({
    policy: PRESETS[preset],
    out,
    layout: "NCHW",
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    range: [0, 1],
    executionProviders: ["cpu"],
  });
  const runs = out.height >= 128 ? 5 : 20;
  const times: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
    const views = sampleViewsForPoint(PRESETS[preset], "views", 0, `point-${r}`, pairs, src, out);
    const t0 = performance.now();
    await augmenter.run(image, views);
    if (r >= 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const perView = times[Math.floor(times.length / 2)] / (2 * pairs);
  console.log(`${preset} src ${src.height}x${src.width} out ${out.height}x${out.width} views ${2 * pairs}: ${perView.toFixed(3)} ms/view`);
  await augmenter.release();
}
