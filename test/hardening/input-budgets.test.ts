/**
 * Issue 13, budgets on what a tenant submits (CASES.md, "Budgets"): point id length, the server's
 * cap on batchSize, and model memory that does not outlive its audit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import type { PointSet } from "../../src/data/point-set.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { SessionCache } from "../../src/engine/session.ts";
import type { WorkerEngineExecutor } from "../../src/jobs/worker-executor.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { solidPng } from "../helpers/data-png.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { randomNpy } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";
import { convEncoder } from "../helpers/tiny-encoders.ts";
import { createAudit, startHarness, submitJson, uploadInputs } from "../http/harness.ts";

const longName = (bytes: number) => `${"d/".repeat(Math.floor((bytes - 6) / 2))}x.png`.padStart(bytes, "a");

function tarWith(names: string[]): Buffer {
  return writeTar(names.map((name) => ({ name, data: solidPng(4, 4, [10, 20, 30]), longName: "pax" as const })));
}

describe("issue 13: input budgets", () => {
  it("B05 a member name over maxPointIdBytes refuses the set with point_id_too_long naming the member; at the limit it is accepted", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-ids-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const atLimit = longName(1024);
    assert.equal(Buffer.byteLength(atLimit), 1024);
    writeFileSync(join(dir, "ok.tar"), tarWith(["a.png", atLimit]));
    const ok = await openPointSet(join(dir, "ok.tar"), {}, { tmpDir: dir });
    assert.equal(ok.size, 2);
    await ok.close();

    const tooLong = longName(1_000_000); // the 1 MB pax path
    writeFileSync(join(dir, "long.tar"), tarWith(["a.png", tooLong]));
    const err = await rejectsWithCode(openPointSet(join(dir, "long.tar"), {}, { tmpDir: dir }), "point_id_too_long");
    assert.match(err.message, /has a name of 1000000 bytes; point ids are at most 1024 bytes/);
    assert.ok(err.message.length < 400, "the message quotes only the start of the name");
    assert.equal(String(err.details?.member).length, 200);
    // Configurable (SSLMEM_MAX_POINT_ID_BYTES); a skipped member's name counts too.
    writeFileSync(join(dir, "skipped.tar"), writeTar([{ name: "a.png", data: solidPng(4, 4, [1, 2, 3]) }, { name: `${"n".repeat(40)}.txt`, data: Buffer.from("x") }]));
    await rejectsWithCode(openPointSet(join(dir, "skipped.tar"), { maxPointIdBytes: 32 }, { tmpDir: dir }), "point_id_too_long");
  });

  it("B05 through the service: the audit fails with point_id_too_long (422) and the audit list stays small", async () => {
    const s = await startEngineServer();
    try {
      const inputs = await uploadAuditInputs(s.alice, {
        target: convEncoder({ seed: 1, channels: 4 }).bytes,
        reference: convEncoder({ seed: 2, channels: 4 }).bytes,
        candidates: tarWith(["a.png", "b.png", longName(200_000)]),
      });
      const r = await s.alice.submit({ ...inputs, config: { views: 2 } });
      assert.equal(r.status, 202);
      const failed = await s.alice.waitFor(r.body.id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "point_id_too_long");
      assert.equal(failed.error?.status, 422);
      const list = await s.alice.request("/v1/audits?limit=100");
      assert.equal(list.status, 200);
      assert.ok((await list.text()).length < 16 * 1024, "no id of 200 kB reaches the list");
    } finally {
      await s.close();
    }
  });

  it("B06 batchSize over the server's cap is refused before any work (validation_failed naming config.batchSize)", async () => {
    const h = await startHarness({ config: { limits: { maxBatchSize: 16 } } });
    try {
      const inputs = await uploadInputs(h);
      const res = await submitJson(h, { ...inputs, config: { batchSize: 4096 } });
      const body = (await res.json()) as { code: string; errors?: { path: string; message: string }[] };
      assert.equal(res.status, 400);
      assert.equal(body.code, "validation_failed");
      assert.equal(body.errors?.[0]?.path, "config.batchSize");
      assert.match(body.errors?.[0]?.message ?? "", /at most 16/);
      await createAudit(h, { config: { batchSize: 16 } });
    } finally {
      await h.close();
    }
  });

  it("B09 the session cache keeps at most its limits once an audit ends (LRU by count and by model bytes)", async () => {
    const models = [1, 2, 3].map((seed) => convEncoder({ seed, channels: 4 }).bytes);
    const byCount = new SessionCache({ maxSessions: 1, maxBytes: 2 ** 30 });
    for (const m of models) await byCount.get(m, { providers: ["cpu"], intraOpThreads: 1 });
    assert.equal(byCount.size, 3, "an audit may hold more while it runs");
    await byCount.get(models[0], { providers: ["cpu"], intraOpThreads: 1 }); // most recently used
    await byCount.trim();
    assert.equal(byCount.size, 1);
    const kept = await byCount.get(models[0], { providers: ["cpu"], intraOpThreads: 1 });
    assert.equal(byCount.size, 1, "the most recently used model is the one kept");
    assert.ok(kept);
    const byBytes = new SessionCache({ maxSessions: 10, maxBytes: models[0].byteLength });
    for (const m of models) await byBytes.get(m, { providers: ["cpu"], intraOpThreads: 1 });
    await byBytes.trim();
    assert.equal(byBytes.size, 1);
    assert.ok(byBytes.bytes <= models[0].byteLength);
    await byCount.clear();
    await byBytes.clear();
  });

  it("B09 distinct models do not stay in memory: the idle engine process exits, the service's memory stays where it was", async () => {
    const s = await startEngineServer({ config: { limits: { engineIdleMs: 300, sessionCacheMax: 1 } } });
    try {
      const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
      const before = rss();
      for (let i = 0; i < 3; i++) {
        const inputs = await uploadAuditInputs(s.alice, {
          target: convEncoder({ seed: 10 + i, channels: 4 }).bytes,
          reference: convEncoder({ seed: 20 + i, channels: 4 }).bytes,
          candidates: randomNpy(3, 16, i),
        });
        const r = await s.alice.submit({ ...inputs, config: { views: 2 } });
        assert.equal((await s.alice.waitFor(r.body.id)).state, "succeeded");
      }
      const executor = s.executor as WorkerEngineExecutor;
      const end = Date.now() + 10_000;
      while (executor.enginePid !== undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.equal(executor.enginePid, undefined, "the idle engine process exited with its sessions");
      assert.ok(rss() - before < 128 * 2 ** 20, `the service grew by ${Math.round((rss() - before) / 2 ** 20)} MiB`);
    } finally {
      await s.close();
    }
  });

  it("B18 a batch shrinks to its decoded-pixel budget (at most 4 images decoding at once); the scores do not change", async (t) => {
    const dir = tempDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const encoders = writeTinyEncoderPair(dir);
    const path = writeRandomNpy(dir, "c.npy", 10, 20, 24, 5); // 480 pixels per image
    const run = async (maxBatchPixels?: number) => {
      const set = await openPointSet(path);
      let decoding = 0;
      let mostDecoding = 0;
      const counted: PointSet = {
        ...set,
        ids: set.ids,
        size: set.size,
        async load(i) {
          mostDecoding = Math.max(mostDecoding, ++decoding);
          try {
            return await set.load(i);
          } finally {
            decoding--;
          }
        },
      };
      const prepared = await prepareAudit(
        { target: encoders.targetBytes, reference: encoders.referenceBytes, candidates: counted },
        AuditConfigSchema.parse({ views: 2, seed: 3, batchSize: 64 }),
        { providers: ["cpu"], threads: 1, memoryBudget: null }, // the pixel budget alone (no memory probe batches)
      );
      const batches: number[] = [];
      const rows: unknown[] = [];
      try {
        await measurePoints(prepared.context, {
          ...(maxBatchPixels ? { maxBatchPixels } : {}),
          onBatch: async (r) => {
            batches.push(r.length);
            rows.push(...r);
          },
        });
      } finally {
        await prepared.release();
        await set.close();
      }
      return { batches, rows, mostDecoding };
    };
    const unlimited = await run();
    const limited = await run(1000);
    assert.deepEqual(unlimited.batches, [10]);
    assert.deepEqual(limited.batches, [4, 4, 2], "4 × 480 pixels reach the 1000-pixel budget");
    assert.ok(limited.mostDecoding <= 8, `${limited.mostDecoding} images decoding at once (a batch and the next one's prefetch)`);
    assert.deepEqual(limited.rows, unlimited.rows, "same scores");
  });
});
