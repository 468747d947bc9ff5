import { test } from "node:test";
import assert from "node:assert/strict";
import { AuditConfigSchema, type AuditConfigInput } from "../../src/core/audit-config.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints, type IndexedMeasurement } from "../../src/engine/measure.ts";
import type { BatchPipeline, Representations } from "../../src/engine/batch-pipeline.ts";
import { pairDistances, viewsPerPoint } from "../../src/core/sslmem.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";

const dir = tempDir();
const encoders = writeTinyEncoderPair(dir);
const candidatesPath = writeRandomNpy(dir, "candidates.npy", 7, 20, 24, 3);
const controlsPath = writeRandomNpy(dir, "controls.npy", 3, 18, 18, 4);

async function measure(config: AuditConfigInput, opts: { from?: number; to?: number } = {}): Promise<IndexedMeasurement[]> {
  const candidates = await openPointSet(candidatesPath);
  const controls = await openPointSet(controlsPath);
  const prepared = await prepareAudit(
    { target: encoders.targetBytes, reference: encoders.referenceBytes, candidates, controls },
    AuditConfigSchema.parse(config),
    { providers: ["cpu"], threads: 1 },
  );
  try {
    return await measurePoints(prepared.context, opts);
  } finally {
    await prepared.release();
    await candidates.close();
    await controls.close();
  }
}

test("same seed gives identical scores whatever the batch size", async () => {
  const one = await measure({ views: 4, seed: 7, batchSize: 1 });
  const three = await measure({ views: 4, seed: 7, batchSize: 3 });
  const all = await measure({ views: 4, seed: 7, batchSize: 64 });
  assert.equal(one.length, 10, "7 candidates + 3 controls");
  assert.deepEqual(three, one, "batch size 3 vs 1");
  assert.deepEqual(all, one, "batch size 64 vs 1");
  assert.deepEqual(
    one.map((m) => m.role),
    [...Array(7).fill("candidate"), ...Array(3).fill("control")],
    "candidates first, then controls",
  );
});

test("a range of points measures exactly those points, identically (shards)", async () => {
  const all = await measure({ views: 3, seed: 1, batchSize: 4 });
  const part = await measure({ views: 3, seed: 1, batchSize: 2 }, { from: 5, to: 9 });
  assert.deepEqual(
    part.map((m) => m.index),
    [5, 6, 7, 8],
    "indices 5..8",
  );
  assert.deepEqual(part, all.slice(5, 9), "shard rows equal the full run's rows");
});

test("a different seed gives different views and scores", async () => {
  const a = await measure({ views: 3, seed: 1 });
  const b = await measure({ views: 3, seed: 2 });
  assert.notDeepEqual(
    a.map((m) => m.score),
    b.map((m) => m.score),
    "scores depend on the seed",
  );
});

test("measurements are consistent: score = alignReference − alignTarget, K pairs, finite", async () => {
  for (const pairing of ["views", "original"] as const) {
    for (const distance of ["l2", "cosine"] as const) {
      const rows = await measure({ views: 5, seed: 3, pairing, distance });
      for (const r of rows) {
        assert.equal(r.pairs, 5, `${pairing}/${distance}: K = 5`);
        assert.ok(Math.abs(r.score - (r.alignReference - r.alignTarget)) < 1e-9, `${pairing}/${distance}: score identity`);
        assert.ok(Number.isFinite(r.stdErr) && r.stdErr >= 0, `${pairing}/${distance}: stdErr`);
        assert.ok(r.alignTarget >= 0 && r.alignReference >= 0, `${pairing}/${distance}: distances are non-negative`);
        if (distance === "l2") assert.ok(r.alignTarget <= 2 + 1e-6, "l2 of unit vectors ≤ 2");
      }
    }
  }
});

test("the 'none' policy makes both views identical: every distance and score is 0", async () => {
  const rows = await measure({ views: 2, augment: "none" });
  for (const r of rows) {
    assert.ok(Math.abs(r.alignTarget) < 1e-6 && Math.abs(r.alignReference) < 1e-6, `identical views of ${r.id}`);
  }
});

test("a config whose views of one point exceed the memory budget is refused before any work", async () => {
  const { checkViewBudget, MAX_VIEW_VALUES } = await import("../../src/engine/measure.ts");
  const config = AuditConfigSchema.parse({ views: 16 });
  const big = { config, target: { viewSize: 3 * 4096 * 4096 } } as never;
  assert.throws(() => checkViewBudget(big), (e: { code?: string }) => e.code === "invalid_config", "32 views of 4096×4096 are refused");
  const fits = { config, target: { viewSize: Math.floor(MAX_VIEW_VALUES / 32) } } as never;
  assert.doesNotThrow(() => checkViewBudget(fits), "exactly the budget is accepted");
});

test("representations are fetched only on request and come with their batch's rows (onRepresentations)", async () => {
  const candidates = await openPointSet(candidatesPath);
  const controls = await openPointSet(controlsPath);
  const config = AuditConfigSchema.parse({ views: 3, seed: 5, pairing: "original", batchSize: 4 });
  const prepared = await prepareAudit({ target: encoders.targetBytes, reference: encoders.referenceBytes, candidates, controls }, config, { providers: ["cpu"], threads: 1, memoryBudget: null });
  try {
    // The audit's own pipeline, with each run's request recorded.
    const asked: boolean[] = [];
    const real = prepared.context.pipeline;
    const pipeline: BatchPipeline = {
      description: real.description,
      prepare: (batch) => real.prepare(batch),
      run: (batch, options) => {
        asked.push(options?.representations === true);
        return real.run(batch, options);
      },
      represent: (batch, options) => real.represent(batch, options),
      release: () => real.release(),
    };
    const ctx = { ...prepared.context, pipeline };
    const plain = await measurePoints(ctx);
    assert.deepEqual(asked, [false, false, false], "three batches, none asked for representations");

    asked.length = 0;
    const batches: { rows: IndexedMeasurement[]; representations: Representations }[] = [];
    const stored: IndexedMeasurement[] = [];
    await measurePoints(ctx, {
      onRepresentations: async (rows, representations) => void batches.push({ rows: [...rows], representations }),
      onBatch: async (rows) => void stored.push(...rows),
    });
    assert.deepEqual(asked, [true, true, true]);
    assert.deepEqual(stored, plain, "the same rows with representations");
    assert.deepEqual(batches.flatMap((b) => b.rows), plain, "each batch's representations come with its rows");
    const perPoint = viewsPerPoint(3, "original");
    for (const { rows, representations } of batches) {
      rows.forEach((row, p) => {
        for (const [side, align] of [["target", row.alignTarget], ["reference", row.alignReference]] as const) {
          const { data, dim } = representations[side];
          assert.equal(data.length, rows.length * perPoint * dim);
          const d = pairDistances({ data: data.subarray(p * perPoint * dim, (p + 1) * perPoint * dim), dim }, "original", "l2");
          assert.ok(Math.abs(d.reduce((s, x) => s + x, 0) / d.length - align) < 1e-6, `${side} of point ${row.index}: block p is point p`);
        }
      });
    }
  } finally {
    await prepared.release();
    await candidates.close();
    await controls.close();
  }
});
