/**
 * A UnitMem audit runs under the SSLMem audits' budgets (issue 13): in the engine process, ended
 * by cancel, by the per-point deadline and by the memory ceiling with a 4xx problem, while the
 * service stays up. The hostile models are those of engine-budgets.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomNpy } from "../helpers/engine-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { endlessLoopEncoder, memoryHogEncoder } from "../helpers/hostile-encoders.ts";
import { pollUntil } from "../helpers/poll.ts";
import type { WorkerEngineExecutor } from "../../src/jobs/worker-executor.ts";

async function submitUnits(s: EngineServer, encoder: Uint8Array): Promise<string> {
  const r = await s.alice.submit({
    kind: "unitmem",
    encoder: await s.alice.putBlob(encoder),
    candidates: await s.alice.putBlob(randomNpy(6, 16, 3)),
    config: { views: 2, batchSize: 1, augment: "none", layers: ["embedding"], preprocessing: { normalize: "unit" } },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id;
}

describe("UnitMem audits under the engine budgets", () => {
  it("an endless model is cancelled: the engine process is killed, the audit is cancelled", async () => {
    const s = await startEngineServer();
    try {
      const id = await submitUnits(s, endlessLoopEncoder());
      const executor = s.executor as WorkerEngineExecutor;
      await s.alice.waitFor(id, (a) => a.progress?.stage === "loading");
      const pid = await pollUntil(async () => executor.enginePid, { what: "the engine process" });
      const cancel = await s.alice.json(`/v1/audits/${id}:cancel`, { method: "POST" });
      assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
      assert.equal((await s.alice.waitFor(id)).state, "cancelled");
      await pollUntil(async () => (executor.enginePid !== pid ? true : undefined), { what: "the engine process to go" });
    } finally {
      await s.close();
    }
  });

  it("an endless model hits the per-point deadline: failed with audit_timeout (422)", async () => {
    const s = await startEngineServer({ config: { limits: { pointTimeoutMs: 1500 } } });
    try {
      const failed = await s.alice.waitFor(await submitUnits(s, endlessLoopEncoder()));
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "audit_timeout", JSON.stringify(failed.error));
      assert.match(String(failed.error?.detail), /1500 ms per point/);
    } finally {
      await s.close();
    }
  });

  it("a model that needs gigabytes fails with resource_exhausted (422) at the engine's memory ceiling", async () => {
    const s = await startEngineServer({ config: { limits: { engineMemoryBytes: 384 * 2 ** 20, engineHeapMiB: 256 } } });
    try {
      const failed = await s.alice.waitFor(await submitUnits(s, memoryHogEncoder(2 ** 29)));
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "resource_exhausted", JSON.stringify(failed.error));
      assert.equal(failed.error?.status, 422);
    } finally {
      await s.close();
    }
  });
});
