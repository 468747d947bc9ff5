/**
 * UnitMem end to end on a model built here: a 1×1 conv whose channel 0 computes relu(R − G − B −
 * 0.3) — it fires on a pure red image and hardly on random noise — beside random channels. Among
 * random images plus one red image, the planted unit must single out the red image with the
 * highest UnitMem of all units, through the composed graph; the host reference path (per-view
 * activations averaged in TypeScript) gives the same per-point means to 1e-5.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { UnitMemConfigSchema, UnitMemReportSchema } from "../../src/core/unitmem-report.ts";
import { unitMemScores } from "../../src/core/unitmem.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { runUnitMem } from "../../src/engine/units.ts";
import { CHANNELS, RED, SIZE, plantedCandidatesFile, plantedUnitModel } from "../helpers/planted-unit.ts";

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
  assert.deepEqual(median.map((u) => u.signed), [false, false, true], "the dead unit is undefined, the others are not");
});

test("UnitMem of a unit with a negative baseline is undefined (0, signed), not a ratio above 1", () => {
  // 3 points × 2 units: unit 0 as in an embedding without a ReLU (0.8 vs −0.3: the ratio would be
  // 2.2); unit 1 non-negative, so in [0, 1].
  const means = Float64Array.from([0.8, 0.9, -0.3, 0.1, -0.2, 0.2]);
  const [signedUnit, plain] = unitMemScores(means, 3, 2, "median");
  assert.deepEqual({ unitMem: signedUnit.unitMem, signed: signedUnit.signed, point: signedUnit.point }, { unitMem: 0, signed: true, point: 0 });
  assert.equal(plain.signed, false);
  assert.ok(Math.abs(plain.unitMem - (0.9 - 0.15) / (0.9 + 0.15)) < 1e-12);
});

test("the planted unit singles out the red image; composed graph = host reference", async () => {
  const model = plantedUnitModel();
  const path = plantedCandidatesFile();
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
