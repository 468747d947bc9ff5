/**
 * The packing arrays' pool (src/engine/array-pool.ts) and its one owner, the composed pipeline:
 * arrays come back zeroed, an array is handed out again only after its batch ran, and reusing
 * them changes no batch's distances.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { sampleViewsForPoint } from "../../src/core/view-params.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { ArrayPool, FRESH_ARRAYS, type PackingArrays } from "../../src/engine/array-pool.ts";
import { augmentGraphOptions } from "../../src/engine/augmenter.ts";
import { packAugmentInputs } from "../../src/engine/augment-graph.ts";
import { PRESET_NAMES, PRESETS } from "../../src/core/policy.ts";
import { noiseImage } from "../helpers/augment-images.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import type { PointViews } from "../../src/engine/batch-pipeline.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";

describe("array pool", () => {
  it("hands out zeroed arrays of the length asked for, and a given-back array again, zeroed", () => {
    const pool = new ArrayPool();
    const a = pool.float32(10);
    assert.equal(a.length, 10);
    assert.ok(a.every((v) => v === 0));
    a.fill(7);
    pool.give([a]);
    assert.equal(pool.size, 1);
    const again = pool.float32(10);
    assert.equal(again, a, "the given-back array is reused");
    assert.ok(again.every((v) => v === 0), "and zeroed");
    assert.equal(pool.size, 0);
    assert.notEqual(pool.float32(10), a, "an array is handed out once until it is given back");
  });

  it("hands a given-back array out as it is when the caller overwrites it, zeroed otherwise", () => {
    const pool = new ArrayPool();
    const a = pool.int32(6, "overwritten");
    a.fill(5);
    pool.give([a]);
    const again = pool.int32(6, "overwritten");
    assert.equal(again, a);
    assert.deepEqual([...again], [5, 5, 5, 5, 5, 5], "not zeroed");
    pool.give([again]);
    assert.deepEqual([...pool.int32(6)], [0, 0, 0, 0, 0, 0], "zeroed by default");
  });

  it("keeps types and lengths apart, whole buffers only, and at most its limit (oldest dropped)", () => {
    const pool = new ArrayPool(2);
    const f = pool.float32(4);
    const i = pool.int32(4);
    const u = pool.uint8(4);
    pool.give([f, i, u]);
    assert.equal(pool.size, 2, "the oldest (the float32 array) went");
    assert.notEqual(pool.float32(4), f);
    assert.equal(pool.int32(4), i);
    assert.notEqual(pool.uint8(5), u, "another length is another array");
    const big = new Float32Array(16);
    pool.give([big.subarray(0, 4), new BigInt64Array(4), "not an array"]);
    assert.equal(pool.size, 1, "neither a view into a larger buffer nor another type is kept");
  });
});

describe("packing into arrays it overwrites", () => {
  it("writes every element of them: stale values (NaN) in them change no packed input", () => {
    // Arrays asked for as "overwritten" come full of NaN, as if a batch of other views had left them.
    const stale: PackingArrays = {
      float32: (n, contents) => (contents === "overwritten" ? new Float32Array(n).fill(NaN) : new Float32Array(n)),
      int32: (n, contents) => (contents === "overwritten" ? new Int32Array(n).fill(-7) : new Int32Array(n)),
      uint8: (n, contents) => (contents === "overwritten" ? new Uint8Array(n).fill(201) : new Uint8Array(n)),
    };
    const out = { height: 12, width: 10 };
    for (const preset of PRESET_NAMES) {
      const policy = PRESETS[preset];
      const opts = augmentGraphOptions({ policy, out, layout: "NCHW", mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], range: [0, 1] });
      // Sources of different sizes (padding), many views each (every op drawn somewhere).
      const batch = [noiseImage(17, 23, 1), noiseImage(9, 14, 2), noiseImage(30, 11, 3)].map((image, i) => ({
        image,
        views: sampleViewsForPoint(policy, "views", 4, `p${i}`, 12, { height: image.height, width: image.width }, out),
      }));
      const fresh = packAugmentInputs(opts, batch, FRESH_ARRAYS);
      const reused = packAugmentInputs(opts, batch, stale);
      assert.deepEqual(Object.keys(reused).sort(), Object.keys(fresh).sort());
      for (const [name, input] of Object.entries(fresh)) {
        assert.deepEqual(reused[name].dims, input.dims, `${preset} ${name}`);
        assert.deepEqual([...reused[name].data], [...input.data], `${preset} ${name}`);
      }
    }
  });
});

describe("the composed pipeline's packed arrays", () => {
  it("give every batch the distances it has alone, whatever order batches are packed and run in", async () => {
    const dir = tempDir();
    const encoders = writeTinyEncoderPair(dir);
    const candidates = await openPointSet(writeRandomNpy(dir, "candidates.npy", 12, 20, 24, 5));
    const config = AuditConfigSchema.parse({ views: 4, seed: 3, batchSize: 4 });
    const prepared = await prepareAudit({ target: encoders.targetBytes, reference: encoders.referenceBytes, candidates }, config, { providers: ["cpu"], threads: 1 });
    try {
      assert.equal(prepared.pipeline.mode, "fused");
      const pipeline = prepared.context.pipeline;
      const { height, width } = prepared.encoders.preprocessing;
      const batchOf = async (from: number): Promise<PointViews[]> =>
        Promise.all(
          [0, 1, 2, 3].map(async (k) => {
            const image = await candidates.load(from + k);
            const views = sampleViewsForPoint(prepared.policy, config.pairing, config.seed, candidates.ids[from + k], config.views, image, { height, width });
            return { image, views };
          }),
        );
      const batches = await Promise.all([0, 4, 8].map(batchOf));
      const alone = [];
      for (const b of batches) alone.push(await pipeline.run(b));
      // Packed ahead, run out of order, one packed after another ran (it takes that one's arrays),
      // and one run twice.
      const [p0, p1] = [pipeline.prepare(batches[0]), pipeline.prepare(batches[1])];
      const r1 = await pipeline.run(p1);
      const p2 = pipeline.prepare(batches[2]);
      const r0 = await pipeline.run(p0);
      const r2 = await pipeline.run(p2);
      // p2's arrays are p3's now: running p2 again must pack it afresh, not read p3's views.
      const p3 = pipeline.prepare(batches[0]);
      const r2again = await pipeline.run(p2);
      const r3 = await pipeline.run(p3);
      for (const [got, want, what] of [
        [r0, alone[0], "batch 0"],
        [r1, alone[1], "batch 1"],
        [r2, alone[2], "batch 2"],
        [r2again, alone[2], "batch 2 run again"],
        [r3, alone[0], "batch 0 packed into batch 2's arrays"],
      ] as const) {
        assert.deepEqual([...got.target], [...want.target], what);
        assert.deepEqual([...got.reference], [...want.reference], what);
      }
    } finally {
      await prepared.release();
      await candidates.close();
    }
  });
});
