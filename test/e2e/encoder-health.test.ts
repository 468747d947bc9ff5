/**
 * The encoder health thresholds, validated on the fixtures: the trained encoders with their own
 * (stamped) normalization pass; the same encoders with a wrong normalization, and randomly
 * initialised encoders, trip them; a random reference next to the trained target is "unlike".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema, type AuditConfigInput } from "../../src/core/audit-config.ts";
import { encoderWarnings, invarianceStats } from "../../src/core/health.ts";
import { sampleViewsForPoint } from "../../src/core/view-params.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../../src/engine/audit.ts";
import { HEALTH_SAMPLE, HEALTH_SEED_OFFSET, measureEncoderHealth, type HealthOptions } from "../../src/engine/diagnostics.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const target = new Uint8Array(readFileSync(join(fixtures, "encoders/target.onnx")));
const reference = new Uint8Array(readFileSync(join(fixtures, "encoders/reference.onnx")));
const random = (seed: number) => convNet({ seed, height: 32, width: 32, widths: [16, 32], dim: 32 });

async function health(t: Uint8Array, r: Uint8Array, config: AuditConfigInput = {}) {
  const candidates = await openPointSet(join(fixtures, "data/candidates"));
  const controls = await openPointSet(join(fixtures, "data/controls.npy"));
  const prepared = await prepareAudit({ target: t, reference: r, candidates, controls }, AuditConfigSchema.parse(config), { providers: ["cpu"], threads: 1 });
  try {
    const h = await measureEncoderHealth(prepared);
    assert.ok(h && h.sample === 32);
    return h;
  } finally {
    await prepared.release();
    await candidates.close();
    await controls.close();
  }
}

test("the right setup passes; wrong normalization and random encoders trip the health checks", async (t) => {
  for (const seed of [0, 1, 2]) {
    const right = await health(target, reference, { seed });
    t.diagnostic(`right normalization, seed ${seed}: spread ${right.target.imageDistance.toFixed(3)}/${right.reference.imageDistance.toFixed(3)}, ratio ${right.target.invarianceRatio.toFixed(3)}/${right.reference.invarianceRatio.toFixed(3)}`);
    assert.deepEqual(encoderWarnings(right.target, right.reference), [], `the trained fixture with its stamped normalization (seed ${seed})`);
  }
  for (const normalize of ["unit", "none"] as const) {
    const wrong = await health(target, reference, { preprocessing: { normalize } });
    t.diagnostic(`--normalize ${normalize}: spread ${wrong.target.imageDistance.toFixed(3)}/${wrong.reference.imageDistance.toFixed(3)}`);
    const w = encoderWarnings(wrong.target, wrong.reference);
    assert.equal(w.length, 2, `--normalize ${normalize} warns for both encoders: ${w.join(" | ")}`);
    assert.match(w[0], /the target encoder maps different images close together.*the preprocessing looks wrong/);
  }
  for (const seed of [3, 5]) {
    const rnd = await health(random(seed), random(seed + 1));
    t.diagnostic(`random encoders ${seed}: spread ${rnd.target.imageDistance.toFixed(3)}/${rnd.reference.imageDistance.toFixed(3)}`);
    assert.equal(encoderWarnings(rnd.target, rnd.reference).length >= 2, true, "random encoders trip the checks");
  }
});

test("a random reference next to the trained target looks unlike it on the controls", async () => {
  const dir = tempDir();
  const pool = await openPointSet(join(fixtures, "data/controls.npy"));
  const subset = (name: string, from: number, n: number) => {
    const data = new Uint8Array(n * 32 * 32 * 3);
    return (async () => {
      for (let k = 0; k < n; k++) data.set((await pool.load(from + k)).data, k * 3072);
      const path = join(dir, name);
      writeFileSync(path, writeNpy({ shape: [n, 32, 32, 3], data }));
      return path;
    })();
  };
  const candidatesPath = await subset("c.npy", 0, 20);
  const controlsPath = await subset("k.npy", 20, 60);
  await pool.close();
  const run = async (r: Uint8Array) => {
    const candidates = await openPointSet(candidatesPath);
    const controls = await openPointSet(controlsPath);
    const config = AuditConfigSchema.parse({ views: 4, batchSize: 40, preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
    const prepared = await prepareAudit({ target, reference: r, candidates, controls }, config, { providers: ["cpu"], threads: 1 });
    try {
      const h = await measureEncoderHealth(prepared);
      const rows = await measurePoints(prepared.context);
      return finalizeAudit(describeAudit(prepared, { id: "health", created: new Date() }, config), rows, config, { health: h }).report.summary.health!;
    } finally {
      await prepared.release();
      await candidates.close();
      await controls.close();
    }
  };
  const fair = await run(reference);
  assert.ok(fair.controlsAlignment && Math.abs(fair.controlsAlignment.ratio - 1) < 0.2, `fair reference: ratio ${fair.controlsAlignment?.ratio}`);
  assert.deepEqual(fair.warnings, []);
  const unfair = await run(convNet({ seed: 9, height: 32, width: 32, widths: [16, 32], dim: 64 }));
  assert.ok(unfair.warnings.some((w) => w.startsWith("the reference looks unlike the target")), unfair.warnings.join(" | "));
});

test("the health sample runs two views of each image, as many a run as an audit batch holds, and gives what the audit's pipeline gives for those views", async () => {
  const candidates = await openPointSet(join(fixtures, "data/candidates"));
  const controls = await openPointSet(join(fixtures, "data/controls.npy"));
  const config = AuditConfigSchema.parse({ seed: 3, batchSize: 8 }); // K = 16: 32 views a point
  const run = async (memoryBudget: number | null, plan?: number, options?: HealthOptions) => {
    const prepared = await prepareAudit({ target, reference, candidates, controls }, config, { providers: ["cpu"], threads: 1, memoryBudget });
    const runs: { views: number; probeSession: boolean }[] = [];
    let pointRuns = 0;
    const pipeline = prepared.context.pipeline;
    const [represent, runBatch] = [pipeline.represent.bind(pipeline), pipeline.run.bind(pipeline)];
    pipeline.represent = (batch, o) => {
      runs.push({ views: batch.reduce((n, b) => n + b.views.length, 0), probeSession: o?.memoryProbe === true });
      return represent(batch, o);
    };
    pipeline.run = (batch, o) => {
      pointRuns++;
      return runBatch(batch, o);
    };
    if (plan !== undefined) prepared.context.memory!.plan = { budget: memoryBudget!, batchSize: plan };
    try {
      const health = await measureEncoderHealth(prepared, HEALTH_SAMPLE, options);
      assert.equal(pointRuns, 0, "no whole points run");
      return { health, runs, planned: prepared.context.memory?.plan?.batchSize };
    } finally {
      await prepared.release();
    }
  };
  const views = (r: { runs: { views: number }[] }) => r.runs.map((x) => x.views);
  try {
    const unbudgeted = await run(null);
    assert.deepEqual(views(unbudgeted), [64], "without a budget: 8 points' views a run hold all 32 images, two views each");
    assert.ok(unbudgeted.runs.every((x) => !x.probeSession));
    const beforePlan = await run(2 ** 30);
    assert.deepEqual(views(beforePlan), [32, 32], "before the memory plan: one point's views a run");
    assert.ok(beforePlan.runs.every((x) => x.probeSession), "in the probe's session: no arena grows before the probe");
    assert.equal(beforePlan.planned, undefined, "the probe is left to the audit's own first batches");
    const fixed = await run(2 ** 30, 1);
    assert.deepEqual(views(fixed), [32, 32], "with a plan of one point: one point's views a run");
    const capped = await run(null, undefined, { maxRunPixels: 3 * 32 * 32 });
    assert.deepEqual(views(capped), [...Array(10).fill(6), 4], "at most the pixel budget a run (three 32×32 images)");

    // The diagnostics' own definition: the first two of each sampled image's views under the
    // health seed, through the audit's pipeline as whole points.
    const prepared = await prepareAudit({ target, reference, candidates, controls }, config, { providers: ["cpu"], threads: 1, memoryBudget: null });
    try {
      const { catalog, policy, pipeline } = prepared.context;
      const rows = { target: [] as Float32Array[], reference: [] as Float32Array[] };
      const dims = { target: 0, reference: 0 };
      for (let i = 0; i < HEALTH_SAMPLE; i++) {
        const { set, local } = catalog.locate(Math.floor((i * catalog.size) / HEALTH_SAMPLE));
        const image = await set.load(local);
        const v = sampleViewsForPoint(policy, config.pairing, config.seed + HEALTH_SEED_OFFSET, set.ids[local], config.views, { height: image.height, width: image.width }, { height: 32, width: 32 });
        const r = (await pipeline.run([{ image, views: v }], { representations: true })).representations!;
        for (const side of ["target", "reference"] as const) {
          dims[side] = r[side].dim;
          rows[side].push(r[side].data.slice(0, 2 * r[side].dim));
        }
      }
      const joined = (side: "target" | "reference") => Float32Array.from(rows[side].flatMap((r) => Array.from(r)));
      const expected = { target: invarianceStats(joined("target"), dims.target), reference: invarianceStats(joined("reference"), dims.reference) };
      for (const other of [unbudgeted, beforePlan, fixed, capped]) {
        assert.equal(other.health!.sample, HEALTH_SAMPLE);
        for (const side of ["target", "reference"] as const) {
          assert.ok(Math.abs(other.health![side].invarianceRatio - expected[side].invarianceRatio) < 1e-5, `${side}: ${other.health![side].invarianceRatio} vs ${expected[side].invarianceRatio}`);
          assert.ok(Math.abs(other.health![side].imageDistance - expected[side].imageDistance) < 1e-5, side);
        }
      }
    } finally {
      await prepared.release();
    }
  } finally {
    await candidates.close();
    await controls.close();
  }
});
