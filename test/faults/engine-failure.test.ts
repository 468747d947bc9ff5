/**
 * Faults inside the engine: an encoder that ONNX Runtime fails to run part-way through an audit,
 * and an engine worker that dies. Each fails only its audit, with a clear problem, and the next
 * audit runs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeNpy } from "../helpers/data-npy.ts";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";
import { brightnessBombEncoder } from "../helpers/faulty-encoders.ts";
import { convEncoder, seededRandom } from "../helpers/tiny-encoders.ts";
import { WorkerEngineExecutor } from "../../src/jobs/worker-executor.ts";

/** Rows 0…darkCount-1 dark (pixels ≤ 60), the rest pure white: the bomb encoder fails on white. */
function darkThenBright(darkCount: number, brightCount: number, size = 16): Buffer {
  const rand = seededRandom(4);
  const n = darkCount + brightCount;
  const data = new Uint8Array(n * size * size * 3);
  const per = size * size * 3;
  for (let i = 0; i < n; i++) for (let k = 0; k < per; k++) data[i * per + k] = i < darkCount ? Math.floor(rand() * 61) : 255;
  return writeNpy({ shape: [n, size, size, 3], data });
}

for (const engineThread of ["worker", "main"] as const) {
  describe(`an encoder that throws inside ONNX Runtime mid-audit (engine on ${engineThread} thread)`, () => {
    it("fails that audit with engine_failure after the first batches were stored, and the next audit runs", async () => {
      const s = await startEngineServer({ engineThread });
      try {
        const inputs = await uploadAuditInputs(s.alice, {
          target: brightnessBombEncoder(),
          reference: convEncoder({ seed: 5, channels: 6 }).bytes,
          candidates: darkThenBright(4, 2),
        });
        const submitted = await s.alice.submit({ ...inputs, config: { augment: "none", batchSize: 2, views: 2 } });
        assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
        const failed = await s.alice.waitFor(submitted.body.id);
        assert.equal(failed.state, "failed");
        assert.equal(failed.error?.code, "engine_failure");
        assert.equal(failed.error?.status, 500);
        assert.match(String(failed.error?.detail), /server log has the details under audit/);
        assert.doesNotMatch(JSON.stringify(failed.error), /Gather|onnxruntime|\/tmp\/|\.ts:\d+|at /, "no internals in the problem");
        // The batches before the first bright point ran and were committed before it threw. With the
        // memory budget's probe batches (1 point, then 2) and then batches of 2, the batches are
        // points 0 | 1,2 | 3,4 (4 is bright): 3 rows.
        assert.equal(await s.store.countResults(submitted.body.id), 3, "the failure happened mid-audit");
        const logged = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.auditId === submitted.body.id && l.msg === "audit failed in the engine");
        assert.ok(logged, "the failure is logged with the audit id");
        assert.match(JSON.stringify(logged.err), /indices element out of data bounds/, "the log has ORT's reason");

        const pair = tinyEncoderPair();
        const next = await uploadAuditInputs(s.alice, { ...pair, candidates: randomNpy(5, 16, 8) });
        const ok = await s.alice.submit({ ...next, config: { views: 2, batchSize: 2 } });
        assert.equal(ok.status, 202);
        const done = await s.alice.waitFor(ok.body.id);
        assert.equal(done.state, "succeeded", JSON.stringify(done.error));
        assert.equal((await s.alice.json(`/readyz`)).status, 200);
      } finally {
        await s.close();
      }
    });
  });
}

describe("the engine process", () => {
  it("measures in a child process; a crashed engine fails only its audit and the next audit gets a new one", async () => {
    const s = await startEngineServer({ engineThread: "worker" });
    try {
      const executor = s.executor as WorkerEngineExecutor;
      const pair = tinyEncoderPair();
      const long = await uploadAuditInputs(s.alice, { ...pair, candidates: randomNpy(200, 16, 2) });
      const submitted = await s.alice.submit({ ...long, config: { views: 8, batchSize: 2 } });
      assert.equal(submitted.status, 202);
      await s.alice.waitFor(submitted.body.id, (a) => a.progress?.stage === "measuring" && a.progress.done > 0, 5);
      const firstPid = executor.enginePid;
      assert.ok(firstPid !== undefined && firstPid > 0, "the engine runs in a child process");
      process.kill(firstPid, "SIGSEGV"); // a crash in native code
      const failed = await s.alice.waitFor(submitted.body.id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "engine_failure");

      const next = await s.alice.submit({ ...long, candidates: await s.alice.putBlob(randomNpy(4, 16, 3)), config: { views: 2 } });
      const done = await s.alice.waitFor(next.body.id);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      assert.notEqual(executor.enginePid, firstPid, "a fresh engine process ran the next audit");
    } finally {
      await s.close();
    }
  });

  it("stops at a cancel (cancelled) and at shutdown (checkpointed back to queued, resumed after restart)", async () => {
    let s = await startEngineServer({ engineThread: "worker" });
    const dir = s.dir;
    try {
      const pair = tinyEncoderPair();
      const inputs = await uploadAuditInputs(s.alice, { ...pair, candidates: randomNpy(60, 16, 5) });
      const first = await s.alice.submit({ ...inputs, config: { views: 4, batchSize: 2 } });
      await s.alice.waitFor(first.body.id, (a) => a.progress?.stage === "measuring" && a.progress.done > 0, 5);
      const cancel = await s.alice.json<{ state: string }>(`/v1/audits/${first.body.id}:cancel`, { method: "POST" });
      assert.ok([200, 202].includes(cancel.status));
      assert.equal((await s.alice.waitFor(first.body.id)).state, "cancelled");

      const second = await s.alice.submit({ ...inputs, config: { views: 4, batchSize: 2, seed: 1 } });
      await s.alice.waitFor(second.body.id, (a) => a.progress?.stage === "measuring" && a.progress.done > 0, 5);
      await s.close({ keepDir: true });
      s = await startEngineServer({ engineThread: "worker", dir });
      const done = await s.alice.waitFor(second.body.id);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      assert.equal(done.attempt, 2, "resumed after the checkpoint");
      const states = (await s.store.readEvents(second.body.id, 0)).filter((e) => e.type === "state").map((e) => e.data.state);
      assert.deepEqual(states, ["queued", "running", "queued", "running", "succeeded"], "checkpointed at shutdown, not failed");
      assert.equal(await s.store.countResults(second.body.id), 60);
    } finally {
      await s.close();
    }
  });

  it("gives the same scores as the engine on the main thread", async () => {
    const pair = tinyEncoderPair();
    const candidates = randomNpy(9, 16, 6);
    const scores: Record<string, unknown[]> = {};
    for (const engineThread of ["worker", "main"] as const) {
      const s = await startEngineServer({ engineThread });
      try {
        const inputs = await uploadAuditInputs(s.alice, { ...pair, candidates });
        const r = await s.alice.submit({ ...inputs, config: { views: 3, seed: 9, batchSize: 4 } });
        assert.equal((await s.alice.waitFor(r.body.id)).state, "succeeded");
        const res = await s.alice.json<{ items: unknown[] }>(`/v1/audits/${r.body.id}/results?limit=100`);
        scores[engineThread] = res.body.items;
      } finally {
        await s.close();
      }
    }
    assert.equal(scores.worker.length, 9);
    assert.deepEqual(scores.worker, scores.main);
  });
});
