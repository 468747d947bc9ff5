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
import { encoderWarnings } from "../../src/core/health.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../../src/engine/audit.ts";
import { measureEncoderHealth } from "../../src/engine/diagnostics.ts";
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

test("the health sample runs in batches the memory plan allows, and does not depend on them", async () => {
  const candidates = await openPointSet(join(fixtures, "data/candidates"));
  const controls = await openPointSet(join(fixtures, "data/controls.npy"));
  const config = AuditConfigSchema.parse({ seed: 3, batchSize: 8 });
  const run = async (memoryBudget: number | null, plan?: number) => {
    const prepared = await prepareAudit({ target, reference, candidates, controls }, config, { providers: ["cpu"], threads: 1, memoryBudget });
    const sizes: number[] = [];
    const pipeline = prepared.context.pipeline;
    const original = pipeline.run.bind(pipeline);
    pipeline.run = (batch, options) => {
      sizes.push(Array.isArray(batch) ? batch.length : "points" in batch ? batch.points.length : -1);
      return original(batch, options);
    };
    if (plan !== undefined) prepared.context.memory!.plan = { budget: memoryBudget!, batchSize: plan };
    try {
      return { health: await measureEncoderHealth(prepared), sizes, planned: prepared.context.memory?.plan?.batchSize };
    } finally {
      await prepared.release();
    }
  };
  try {
    const unbudgeted = await run(null);
    assert.deepEqual(unbudgeted.sizes, [8, 8, 8, 8], "without a budget: the configured batch size");
    const beforePlan = await run(2 ** 30);
    // With a budget and no plan yet, the health sample's first batches are the memory probe, and
    // the rest take the plan it made (the audit's batches then need no probe of their own).
    const planned = beforePlan.planned!;
    assert.ok(planned >= 1 && planned <= 8, `planned ${planned}`);
    const rest = Array.from({ length: Math.ceil(29 / planned) }, (_, i) => Math.min(planned, 29 - i * planned));
    assert.deepEqual(beforePlan.sizes, [1, 2, ...rest], "with a budget and no plan yet: the probe's 1 and 2 points, then the plan's");
    const fixed = await run(2 ** 30, 5);
    assert.deepEqual(fixed.sizes, [5, 5, 5, 5, 5, 5, 2], "with a plan: its batch size");
    for (const other of [beforePlan, fixed]) {
      for (const side of ["target", "reference"] as const) {
        assert.ok(Math.abs(other.health![side].invarianceRatio - unbudgeted.health![side].invarianceRatio) < 1e-6, side);
        assert.ok(Math.abs(other.health![side].imageDistance - unbudgeted.health![side].imageDistance) < 1e-6, side);
      }
    }
  } finally {
    await candidates.close();
    await controls.close();
  }
});
