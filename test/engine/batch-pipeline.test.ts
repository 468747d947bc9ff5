/**
 * The batch pipeline's two forms agree: the composed graph (augmentation + both encoders + distances
 * in one session) and the chained sessions give the same distances and, on request, the same
 * representations; encoders of different opsets are composed after upgrading the older one; what
 * cannot be composed is chained, with the reason.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { PRESETS } from "../../src/core/policy.ts";
import { sampleViewsForPoint } from "../../src/core/view-params.ts";
import { augmentGraphOptions } from "../../src/engine/augmenter.ts";
import { augmentRunCount } from "../../src/engine/augment-graph.ts";
import type { AugmentSite } from "../../src/engine/batch-packing.ts";
import { createBatchPipeline, defaultAugmentSite, DEVICE_HOST_VIEWS_MAX_SIDE, type BatchPipeline } from "../../src/engine/batch-pipeline.ts";
import { hostAugmentation } from "../../src/engine/host-augment.ts";
import { loadEncoderPair } from "../../src/engine/load-encoders.ts";
import { SessionCache } from "../../src/engine/session.ts";
import { floatTensor, GraphBuilder } from "../../src/engine/onnx/builder.ts";
import type { ProviderChoice } from "../../src/engine/providers.ts";
import { noiseImage } from "../helpers/augment-images.ts";
import { convEncoder, stampedUnit, uniform } from "../helpers/tiny-encoders.ts";

const CPU: ProviderChoice = { requested: ["cpu"], provider: "cpu", executionProviders: ["cpu"], skipped: [] };
const config = AuditConfigSchema.parse({ views: 3, seed: 2 });

/** conv 3×3 → relu → ReduceMean over H,W, written for `opset` (axes: attribute before 18, input from 18). */
function reduceMeanEncoder(opset: number, seed: number): Uint8Array {
  const g = new GraphBuilder("reduce_mean_encoder");
  const x = g.input("image", "float", ["N", 3, 16, 16]);
  const w = g.initializer(floatTensor("w", uniform(seed, 6 * 27, 0.3), [6, 3, 3, 3]));
  const y = g.op1("Relu", [g.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  const pooled = opset >= 18 ? g.op1("ReduceMean", [y, g.constInt64([2, 3])], { keepdims: 0 }, "embedding") : g.op1("ReduceMean", [y], { axes: [2, 3], keepdims: 0 }, "embedding");
  g.output(pooled, "float", ["N", 6]);
  return stampedUnit(g.toModelBytes({ opset }));
}

async function pipelines(target: Uint8Array, reference: Uint8Array, batchSize = config.batchSize, augmentation?: AugmentSite): Promise<{ fused: BatchPipeline; chained: BatchPipeline; release(): Promise<void> }> {
  const encoders = await loadEncoderPair(target, reference, { providers: CPU, intraOpThreads: 1 });
  const p = encoders.preprocessing;
  const augment = augmentGraphOptions({ policy: PRESETS.simclr, out: { height: p.height, width: p.width }, layout: p.layout, mean: p.mean, std: p.std, range: p.range });
  const options = { augment, target: { bytes: target, encoder: encoders.target }, reference: { bytes: reference, encoder: encoders.reference }, config: { ...config, batchSize }, providers: CPU, threads: 1, ...(augmentation ? { augmentation } : {}) };
  const fused = await createBatchPipeline(options);
  const chained = await createBatchPipeline({ ...options, forceChained: "test" });
  return {
    fused,
    chained,
    async release() {
      await fused.release();
      await chained.release();
      await encoders.target.release();
      await encoders.reference.release();
    },
  };
}

function batch() {
  return [noiseImage(20, 24, 1), noiseImage(18, 18, 2)].map((image, i) => ({
    image,
    views: sampleViewsForPoint(PRESETS.simclr, "views", 2, `p${i}`, config.views, { height: image.height, width: image.width }, { height: 16, width: 16 }),
  }));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("views are made on the host for the CPU provider, and for a GPU provider when they are small; in the graph when the addon is missing", () => {
  const host = hostAugmentation();
  assert.ok("addon" in host, "the addon is built for the tests (npm ci)");
  const missing = { reason: "the host augmentation addon is not built (npm ci builds it with node-gyp)" };
  const side = (n: number) => ({ height: n, width: n });
  assert.deepEqual(defaultAugmentSite("cpu", side(224), host), { site: "host" });
  assert.deepEqual(defaultAugmentSite("cpu", side(32), missing), { site: "graph", fallback: missing.reason });
  for (const gpu of ["webgpu", "cuda"]) {
    assert.deepEqual(defaultAugmentSite(gpu, side(32), host), { site: "host" }, gpu);
    assert.deepEqual(defaultAugmentSite(gpu, { height: DEVICE_HOST_VIEWS_MAX_SIDE, width: 64 }, host), { site: "host" }, gpu);
    assert.deepEqual(defaultAugmentSite(gpu, { height: 64, width: DEVICE_HOST_VIEWS_MAX_SIDE + 1 }, host), { site: "graph" }, `${gpu}: the longer side counts`);
    assert.deepEqual(defaultAugmentSite(gpu, side(224), host), { site: "graph" }, gpu);
    assert.deepEqual(defaultAugmentSite(gpu, side(64), missing), { site: "graph", fallback: missing.reason }, gpu);
    assert.deepEqual(defaultAugmentSite(gpu, side(224), missing), { site: "graph" }, `${gpu}: large views go to the graph anyway, nothing to warn of`);
  }
});

for (const augmentation of ["host", "graph"] as const) {
  test(`composed (views made in the ${augmentation}) and chained pipelines give the same distances and representations`, async () => {
    const p = await pipelines(convEncoder({ seed: 1 }).bytes, convEncoder({ seed: 5 }).bytes, config.batchSize, augmentation);
    try {
      assert.equal(p.fused.description.mode, "fused");
      assert.equal(p.fused.description.augmentation, augmentation);
      assert.equal(p.chained.description.mode, "chained");
      const b = batch();
      const fused = await p.fused.run(b, { representations: true });
      const chained = await p.chained.run(b, { representations: true });
      assert.equal(fused.target.length, 2 * config.views, "K distances per point");
      assert.ok(maxDiff(fused.target, chained.target) < 1e-5 && maxDiff(fused.reference, chained.reference) < 1e-5);
      assert.ok(fused.representations && chained.representations, "representations on request");
      assert.equal(fused.representations.target.data.length, 2 * 2 * config.views * fused.representations.target.dim, "one row per view");
      assert.ok(maxDiff(fused.representations.target.data, chained.representations.target.data) < 1e-5);
      assert.ok(maxDiff(fused.representations.reference.data, chained.representations.reference.data) < 1e-5);
      assert.equal((await p.fused.run(b)).representations, undefined, "not computed out unless asked");
    } finally {
      await p.release();
    }
  });
}

test("a composed graph sized for large batches augments in runs of views: the same distances and representations, bit for bit", async () => {
  // 1 024 points of 6 views at 16×16 are 4.7 M values: the augmentation runs in 6 runs (one point's views at most).
  assert.equal(augmentRunCount({ height: 16, width: 16 }, 1024 * 2 * config.views, 2 * config.views), 2 * config.views);
  const [t, r] = [convEncoder({ seed: 1 }).bytes, convEncoder({ seed: 5 }).bytes];
  const one = await pipelines(t, r, config.batchSize, "graph");
  const runs = await pipelines(t, r, 1024, "graph");
  try {
    assert.equal(one.fused.description.augmentRuns, 1);
    assert.equal(runs.fused.description.augmentRuns, 2 * config.views);
    const b = batch();
    const [a, c] = [await one.fused.run(b, { representations: true }), await runs.fused.run(b, { representations: true })];
    const [ar, cr] = [a.representations, c.representations];
    assert.ok(ar && cr, "representations on request");
    for (const side of ["target", "reference"] as const) {
      assert.ok(a[side].every((x, i) => Object.is(x, c[side][i])), `${side} distances`);
      assert.ok(ar[side].data.every((x, i) => Object.is(x, cr[side].data[i])), `${side} representations`);
    }
    // Representations of views that are not whole points are padded to one point's views: still no empty run.
    const two = b.map(({ image, views }) => ({ image, views: views.slice(0, 2) }));
    const [ra, rc] = [await one.fused.represent(two), await runs.fused.represent(two)];
    assert.ok(ra.target.data.every((x, i) => Object.is(x, rc.target.data[i])));
  } finally {
    await one.release();
    await runs.release();
  }
});

test("representations of views that do not form points (two views of each image): composed and chained agree with a run of whole points", async () => {
  const p = await pipelines(convEncoder({ seed: 1 }).bytes, convEncoder({ seed: 5 }).bytes);
  try {
    const whole = batch();
    const two = whole.map(({ image, views }) => ({ image, views: views.slice(0, 2) })); // 4 views: not a multiple of 2K = 6
    const expected = (await p.fused.run(whole, { representations: true })).representations!;
    const firstTwo = (data: Float32Array, dim: number) => Float32Array.from([...data.subarray(0, 2 * dim), ...data.subarray(2 * config.views * dim, (2 * config.views + 2) * dim)]);
    for (const pipeline of [p.fused, p.chained]) {
      const got = await pipeline.represent(two);
      for (const side of ["target", "reference"] as const) {
        assert.equal(got[side].data.length, 4 * got[side].dim, `${pipeline.description.mode}: one row per view`);
        assert.ok(maxDiff(got[side].data, firstTwo(expected[side].data, expected[side].dim)) < 1e-5, `${pipeline.description.mode} ${side}`);
      }
    }
  } finally {
    await p.release();
  }
});

test("a pipeline made for the memory probe: probe batches without the arena, then the arena session, the same distances; the encoders' own sessions suspended until needed", async () => {
  const [t, r] = [convEncoder({ seed: 1 }).bytes, convEncoder({ seed: 5 }).bytes];
  const encoders = await loadEncoderPair(t, r, { providers: CPU, intraOpThreads: 1 });
  const suspended: string[] = [];
  for (const side of ["target", "reference"] as const) {
    const encoder = encoders[side];
    const suspend = encoder.suspend.bind(encoder);
    encoder.suspend = () => {
      suspended.push(side);
      return suspend();
    };
  }
  const p = encoders.preprocessing;
  const augment = augmentGraphOptions({ policy: PRESETS.simclr, out: { height: p.height, width: p.width }, layout: p.layout, mean: p.mean, std: p.std, range: p.range });
  const pipeline = await createBatchPipeline({ augment, target: { bytes: t, encoder: encoders.target }, reference: { bytes: r, encoder: encoders.reference }, config, providers: CPU, threads: 1, memoryProbe: true });
  try {
    assert.equal(pipeline.description.mode, "fused");
    assert.deepEqual(suspended.sort(), ["reference", "target"], "the composed graph holds both encoders: their sessions are suspended");
    const b = batch();
    const probe = await pipeline.run(b, { memoryProbe: true });
    const planned = await pipeline.run(b);
    assert.ok(maxDiff(probe.target, planned.target) < 1e-6 && maxDiff(probe.reference, planned.reference) < 1e-6);
    assert.ok(maxDiff((await pipeline.run(b, { memoryProbe: true })).target, planned.target) < 1e-6, "a later probe batch makes its session again");
    // A suspended session opens again when the encoder is used (the chained fallback does).
    const views = new Float32Array(2 * encoders.target.viewSize).fill(0.25);
    const again = await encoders.target.embed(views, 2);
    assert.equal(again.data.length, 2 * encoders.target.dim);
    assert.ok(again.data.every(Number.isFinite));
  } finally {
    await pipeline.release();
    await encoders.target.release();
    await encoders.reference.release();
  }
  await assert.rejects(encoders.target.embed(new Float32Array(encoders.target.viewSize), 1), /released/, "a released session stays released");
});

test("an opset-13 encoder (ReduceMean axes attribute) composes with an opset-18 one after its upgrade", async () => {
  const p = await pipelines(reduceMeanEncoder(13, 3), reduceMeanEncoder(18, 4));
  try {
    assert.equal(p.fused.description.mode, "fused", p.fused.description.reason);
    assert.equal(p.fused.description.opset, 18);
    const b = batch();
    const fused = await p.fused.run(b);
    const chained = await p.chained.run(b);
    assert.ok(maxDiff(fused.target, chained.target) < 1e-5 && maxDiff(fused.reference, chained.reference) < 1e-5);
  } finally {
    await p.release();
  }
});

test("an encoder exported with a fixed batch is chained, and the reason says so", async () => {
  const p = await pipelines(convEncoder({ seed: 1, batch: 1 }).bytes, convEncoder({ seed: 5, batch: 1 }).bytes);
  try {
    assert.equal(p.fused.description.mode, "chained");
    assert.match(p.fused.description.reason ?? "", /fixed batch of 1/);
    const d = await p.fused.run(batch());
    assert.equal(d.target.length, 2 * config.views);
  } finally {
    await p.release();
  }
});

test("a session cache keeps the composed session across audits of the same encoders and settings, within its limits", async () => {
  const target = convEncoder({ seed: 1 }).bytes;
  const reference = convEncoder({ seed: 2 }).bytes;
  const cache = new SessionCache({ maxSessions: 1, maxBytes: 1 << 30 });
  const encoders = await loadEncoderPair(target, reference, { providers: CPU, intraOpThreads: 1 });
  const p = encoders.preprocessing;
  const augment = augmentGraphOptions({ policy: PRESETS.simclr, out: { height: p.height, width: p.width }, layout: p.layout, mean: p.mean, std: p.std, range: p.range });
  const options = { augment, target: { bytes: target, encoder: encoders.target }, reference: { bytes: reference, encoder: encoders.reference }, config, providers: CPU, threads: 1, cache };
  try {
    const first = await createBatchPipeline(options);
    const expected = await first.run(batch());
    await first.release(); // the cache's session outlives the audit that made it
    assert.equal(cache.size, 1);
    const again = await createBatchPipeline(options);
    assert.equal(cache.size, 1, "the same encoders and settings reuse the cached session");
    assert.deepEqual(again.description, first.description);
    assert.deepEqual(await again.run(batch()), expected);
    await again.release();

    const cosine = await createBatchPipeline({ ...options, config: { ...config, distance: "cosine" } });
    assert.equal(cache.size, 2, "another distance is another graph");
    await cosine.run(batch());
    await cosine.release();
    await cache.trim();
    assert.equal(cache.size, 1, "trim keeps the cache within its count");
  } finally {
    await cache.clear();
    await encoders.target.release();
    await encoders.reference.release();
  }
});
