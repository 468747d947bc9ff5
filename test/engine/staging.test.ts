import { test } from "node:test";
import assert from "node:assert/strict";
import { AuditConfigSchema, type AuditConfigInput } from "../../src/core/audit-config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { resolvePolicy } from "../../src/core/policy.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { augmentGraphOptions } from "../../src/engine/augmenter.ts";
import { FRESH_ARRAYS } from "../../src/engine/array-pool.ts";
import { packBatch, type AugmentSite } from "../../src/engine/batch-packing.ts";
import type { BatchPipeline } from "../../src/engine/batch-pipeline.ts";
import { measurePoints, samplingSettings, type IndexedMeasurement } from "../../src/engine/measure.ts";
import { sampleBatch, StagingThread, type StagingInit, type StagingPoint } from "../../src/engine/staging.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";

const dir = tempDir();
const encoders = writeTinyEncoderPair(dir);
// Sources of two sizes, so that a batch packs images of different sizes.
const candidatesPath = writeRandomNpy(dir, "candidates.npy", 9, 20, 24, 5);
const controlsPath = writeRandomNpy(dir, "controls.npy", 4, 18, 18, 6);

async function measure(config: AuditConfigInput, staging: "inline" | "thread"): Promise<{ rows: IndexedMeasurement[]; reported: string | undefined }> {
  const candidates = await openPointSet(candidatesPath);
  const controls = await openPointSet(controlsPath);
  const prepared = await prepareAudit(
    { target: encoders.targetBytes, reference: encoders.referenceBytes, candidates, controls },
    AuditConfigSchema.parse(config),
    { providers: ["cpu"], threads: 1, staging, memoryBudget: null },
  );
  try {
    return { rows: await measurePoints(prepared.context), reported: prepared.pipeline.staging };
  } finally {
    await prepared.release();
    await candidates.close();
    await controls.close();
  }
}

test("batches staged on the staging thread measure exactly what inline staging measures", async () => {
  // Batches of 3: five batches, so the thread packs into arrays given back by earlier runs.
  for (const config of [
    { views: 4, seed: 11, batchSize: 3 },
    { views: 3, seed: 2, batchSize: 3, pairing: "original" as const, distance: "cosine" as const },
  ]) {
    const inline = await measure(config, "inline");
    const thread = await measure(config, "thread");
    assert.equal(inline.rows.length, 13);
    assert.deepEqual(thread.rows, inline.rows, `${JSON.stringify(config)}: same rows, bit for bit`);
    assert.equal(inline.reported, "inline");
    assert.equal(thread.reported, "thread");
  }
});

/** A staging thread that records when a batch is posted to it. */
class RecordingStaging extends StagingThread {
  constructor(
    init: StagingInit,
    private readonly events: string[],
  ) {
    super(init);
  }

  override stage(points: readonly StagingPoint[]) {
    this.events.push("stage");
    return super.stage(points);
  }
}

test("with a staging thread, the next batch is posted to it before this batch runs", async () => {
  const candidates = await openPointSet(candidatesPath);
  const controls = await openPointSet(controlsPath);
  const prepared = await prepareAudit(
    { target: encoders.targetBytes, reference: encoders.referenceBytes, candidates, controls },
    AuditConfigSchema.parse({ views: 2, seed: 3, batchSize: 3 }),
    { providers: ["cpu"], threads: 1, memoryBudget: null, staging: "thread" },
  );
  const events: string[] = [];
  const real = prepared.context.pipeline;
  const packing = real.packing;
  if (!packing) throw new Error("the composed pipeline packs its batches");
  const pipeline: BatchPipeline = {
    description: real.description,
    packing,
    prepare: (batch) => real.prepare(batch),
    run: (batch, options) => {
      events.push("run");
      return real.run(batch, options);
    },
    represent: (batch, options) => real.represent(batch, options),
    release: () => real.release(),
  };
  const staging = new RecordingStaging({ sampling: samplingSettings(prepared.context), packing }, events);
  try {
    const rows = await measurePoints({ ...prepared.context, pipeline, staging });
    assert.equal(rows.length, 13);
    // 13 points in batches of 3: five batches, each posted once; before the k-th run (from 0) the
    // batches 0…k+1 are posted — all but the last run overlap the next batch's staging.
    assert.equal(events.filter((e) => e === "stage").length, 5);
    const runs = events.flatMap((e, i) => (e === "run" ? [events.slice(0, i).filter((x) => x === "stage").length] : []));
    assert.deepEqual(runs, [2, 3, 4, 5, 5], `stage posts before each run: ${events.join(" ")}`);
  } finally {
    await staging.close();
    await prepared.release();
    await candidates.close();
    await controls.close();
  }
});

test("the CPU provider stages inline unless asked otherwise", async () => {
  const candidates = await openPointSet(candidatesPath);
  const prepared = await prepareAudit({ target: encoders.targetBytes, reference: encoders.referenceBytes, candidates }, AuditConfigSchema.parse({ views: 2 }), { providers: ["cpu"], threads: 1 });
  try {
    assert.equal(prepared.pipeline.staging, "inline");
    assert.equal(prepared.context.staging, undefined);
  } finally {
    await prepared.release();
    await candidates.close();
  }
});

function init(site: AugmentSite = "graph"): StagingInit {
  const policy = resolvePolicy("simclr");
  const out = { height: 16, width: 16 };
  return {
    sampling: { policy, pairing: "views", seed: 5, views: 2, out },
    packing: { augment: augmentGraphOptions({ policy, out, layout: "NCHW", mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], range: [0, 1] }), site },
  };
}

function image(width: number, height: number, fill: number) {
  return { width, height, data: new Uint8Array(width * height * 3).map((_, i) => (i * 7 + fill) % 256) };
}

for (const site of ["graph", "host"] as const) {
  test(`the staging thread packs what the main thread packs (views made in the ${site}), keeps the caller's pixels and takes arrays back`, async () => {
    const settings = init(site);
    const points = [
      { id: "a", image: image(20, 18, 1) },
      { id: "b", image: image(24, 24, 2) },
    ];
    const pixels = points.map((p) => p.image.data.slice());
    const thread = new StagingThread(settings);
    try {
      const staged = await thread.stage(points);
      const here = packBatch(settings.packing, sampleBatch(settings.sampling, points), FRESH_ARRAYS);
      assert.deepEqual(staged.batch, sampleBatch(settings.sampling, points), "same views, the caller's images");
      assert.equal(staged.batch[0].image, points[0].image, "the batch holds the caller's image objects");
      assert.deepEqual(Object.keys(staged.inputs).sort(), Object.keys(here).sort());
      for (const [name, input] of Object.entries(here)) assert.deepEqual(staged.inputs[name], input, `input ${name}`);
      points.forEach((p, i) => assert.deepEqual(p.image.data, pixels[i], "the caller's pixels are untouched (copies went to the thread)"));

      const arrays = Object.values(staged.inputs).map((input) => input.data);
      thread.giveBack(arrays);
      assert.ok(arrays.filter((a) => a.length > 0).every((a) => a.byteLength === 0), "given back by transfer: detached here");
      const again = await thread.stage(points);
      for (const [name, input] of Object.entries(here)) assert.deepEqual(again.inputs[name], input, `input ${name} packed into a recycled array`);
    } finally {
      await thread.close();
    }
  });
}

test("a batch the thread cannot stage fails with the engine's error; a closed thread refuses", async () => {
  const thread = new StagingThread(init());
  const bad = { id: "x", image: { width: 4, height: 4, data: new Uint8Array(5) } };
  await assert.rejects(thread.stage([bad]), (e: unknown) => e instanceof SslmemError && e.code === "image_invalid" && !/\/work\/|\bat /.test(e.message));
  // The thread is still usable after a failed batch.
  const ok = await thread.stage([{ id: "y", image: image(8, 8, 3) }]);
  assert.equal(ok.batch.length, 1);
  // A batch in flight when the thread is closed is refused, not left pending.
  const refused = assert.rejects(thread.stage([{ id: "w", image: image(64, 64, 5) }]), (e: unknown) => e instanceof SslmemError);
  await thread.close();
  await refused;
  await assert.rejects(thread.stage([{ id: "z", image: image(8, 8, 4) }]), (e: unknown) => e instanceof SslmemError);
});
