/**
 * Time per view of the augmentation graph (ONNX Runtime, CPU here) for a preset at a few sizes.
 *   node --import tsx bench/augment-graph.bench.ts [preset] [views]
 * Prints one line per case: wall-clock ms per view (min and median over runs after warm-up) and
 * process CPU ms per view (all ONNX Runtime threads; less sensitive to other load on the machine).
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
  const runs = out.height >= 128 ? 10 : 40;
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
    const views = sampleViewsForPoint(PRESETS[preset], "views", 0, `point-${r}`, pairs, src, out);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await augmenter.run(image, views);
    const c = process.cpuUsage(c0);
    if (r >= 2) {
      times.push(performance.now() - t0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  const V = 2 * pairs;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `${preset} src ${src.height}x${src.width} → out ${out.height}x${out.width}, ${V} views/run: ` +
      `wall min ${(Math.min(...times) / V).toFixed(3)} median ${(median(times) / V).toFixed(3)} ms/view, cpu median ${(median(cpu) / V).toFixed(3)} ms/view`,
  );
  await augmenter.release();
}
