/**
 * UnitMem end to end on a model built here: a 1×1 conv whose channel 0 computes relu(R − G − B −
 * 0.3) — it fires on a pure red image and hardly on random noise — beside random channels. Among
 * random images plus one red image, the planted unit must single out the red image with the
 * highest UnitMem of all units, through the composed graph; the host reference path (per-view
 * activations averaged in TypeScript) gives the same per-point means to 1e-5.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UnitMemConfigSchema, UnitMemReportSchema } from "../../src/core/unitmem-report.ts";
import { unitMemScores } from "../../src/core/unitmem.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { GraphBuilder, floatTensor } from "../../src/engine/onnx/builder.ts";
import { runUnitMem } from "../../src/engine/units.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { seededRandom, uniform } from "../helpers/tiny-encoders.ts";

const SIZE = 16;
const CHANNELS = 6;
const POINTS = 16;
const RED = 5;

/** images [N,3,16,16] → Conv1×1 (channel 0 planted) → Relu "features" → GAP → "embedding" [N,6]. */
export function plantedUnitModel(): Uint8Array {
  const g = new GraphBuilder("planted");
  const x = g.input("images", "float", ["N", 3, SIZE, SIZE]);
  const w = uniform(3, CHANNELS * 3, 0.5);
  w.set([1, -1, -1], 0);
  // The random channels get a positive bias so they respond to every image: a unit that is dead
  // except on one image would (rightly) score UnitMem 1 too, and compete with the planted one.
  const b = uniform(4, CHANNELS, 0.05).map((v) => v + 0.5);
  b[0] = -0.3;
  g.initializer(floatTensor("w", w, [CHANNELS, 3, 1, 1]));
  g.initializer(floatTensor("b", b, [CHANNELS]));
  const conv = g.op1("Conv", [x, "w", "b"], {}, "conv");
  g.op1("Relu", [conv], {}, "features");
  const pooled = g.op1("GlobalAveragePool", ["features"]);
  g.op1("Flatten", [pooled], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", CHANNELS]);
  return g.toModelBytes({ opset: 17 });
}

function candidates(): string {
  const rand = seededRandom(9);
  const data = new Uint8Array(POINTS * SIZE * SIZE * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  for (let p = 0; p < SIZE * SIZE; p++) data.set([255, 0, 0], (RED * SIZE * SIZE + p) * 3);
  const path = join(tempDir(), "points.npy");
  writeFileSync(path, writeNpy({ shape: [POINTS, SIZE, SIZE, 3], data }));
  return path;
}

test("UnitMem by hand: median and mean baselines, dead units score 0", () => {
  // 4 points × 2 units; unit 0 fires on point 0, unit 1 is flat, a third unit is dead.
  const means = Float64Array.from([1, 0.5, 0, 0.2, 0.5, 0, 0.1, 0.5, 0, 0.3, 0.5, 0]);
  const median = unitMemScores(means, 4, 3, "median");
  assert.equal(median[0].point, 0);
  assert.ok(Math.abs(median[0].unitMem - (1 - 0.2) / (1 + 0.2)) < 1e-12);
  assert.equal(median[1].unitMem, 0);
  assert.equal(median[2].unitMem, 0);
  const mean = unitMemScores(means, 4, 3, "mean");
  assert.ok(Math.abs(mean[0].muOthers - 0.2) < 1e-12);
});

test("the planted unit singles out the red image; composed graph = host reference", async () => {
  const model = plantedUnitModel();
  const path = candidates();
  const config = UnitMemConfigSchema.parse({ views: 6, seed: 2, batchSize: 5, preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] } });
  const run = async (pipeline: "auto" | "host") => {
    const set = await openPointSet(path);
    try {
      return await runUnitMem(model, set, config, { providers: ["cpu"], threads: 1, pipeline }, { id: "t", created: new Date(0) });
    } finally {
      await set.close();
    }
  };
  const fused = await run("auto");
  const host = await run("host");
  const report = UnitMemReportSchema.parse(fused.report);
  assert.equal(report.run.pipeline, "fused");
  assert.equal(host.report.run.pipeline, "host");
  assert.deepEqual(report.layers.map((l) => l.name), ["features", "embedding"]);
  assert.deepEqual(report.layers[0].shape, [CHANNELS, SIZE, SIZE]);
  assert.equal(report.layers[0].units, CHANNELS);

  const redId = (await openPointSet(path)).ids[RED];
  const top = report.topUnits[0];
  assert.equal(top.unit, 0, `the planted unit has the highest UnitMem: ${JSON.stringify(report.topUnits.slice(0, 3))}`);
  assert.equal(top.point, redId);
  assert.ok(top.unitMem > 0.8, `UnitMem of the planted unit ${top.unitMem}`);
  assert.equal(report.points[0].id, redId, "the red image is the point most units single out");
  assert.equal(report.run.config.baseline, "median");

  let worst = 0;
  fused.means.forEach((m, l) => m.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - host.means[l][i])))));
  assert.ok(worst <= 1e-5, `composed graph vs host reference: ${worst}`);
});
