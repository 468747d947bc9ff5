/**
 * Issue 13, the engine's budgets (CASES.md, "Budgets"): a tenant's model that never returns, or
 * that needs gigabytes, ends its own audit with a 4xx problem — by cancel, deadline, memory
 * ceiling or SIGTERM — while the service stays up and another tenant's audit completes. Whether
 * the engine is really gone is read from /proc, not inferred from the API.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs, type EngineServer } from "../helpers/engine-server.ts";
import { endlessLoopEncoder, memoryHogEncoder } from "../helpers/hostile-encoders.ts";
import { spawnSslmem } from "../helpers/scaled-processes.ts";
import { ServiceClient } from "../helpers/service-client.ts";
import { convEncoder } from "../helpers/tiny-encoders.ts";
import type { WorkerEngineExecutor } from "../../src/jobs/worker-executor.ts";
import { alive, cpuTicks } from "../helpers/proc.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** The direct children of a process, from /proc/<pid>/task/<tid>/children. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Alice's audit of `target` (the reference is a normal encoder). */
async function submitWith(s: { alice: ServiceClient }, target: Uint8Array, config: Record<string, unknown> = {}): Promise<string> {
  const inputs = await uploadAuditInputs(s.alice, { target, reference: convEncoder({ seed: 5, channels: 4 }).bytes, candidates: randomNpy(6, 16, 3) });
  const r = await s.alice.submit({ ...inputs, config: { views: 2, batchSize: 2, augment: "none", preprocessing: { normalize: "unit" }, ...config } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id;
}

/** Bob's ordinary audit completes: the service is up and its runner free. */
async function otherTenantCompletes(s: EngineServer): Promise<void> {
  const inputs = await uploadAuditInputs(s.bob, { ...tinyEncoderPair(), candidates: randomNpy(4, 16, 9) });
  const r = await s.bob.submit({ ...inputs, config: { views: 2 } });
  assert.equal(r.status, 202);
  const done = await s.bob.waitFor(r.body.id);
  assert.equal(done.state, "succeeded", JSON.stringify(done.error));
}

/** Waits until the engine process runs the audit and burns CPU (inside ONNX Runtime). */
async function engineSpinning(executor: WorkerEngineExecutor): Promise<number> {
  let pid: number | undefined;
  await waitUntil("the engine process exists", () => (pid = executor.enginePid) !== undefined);
  const before = cpuTicks(pid!)!;
  await waitUntil("the engine burns CPU", () => (cpuTicks(pid!) ?? 0) - before >= 50, 60_000);
  return pid!;
}

describe("issue 13: engine budgets", () => {
  it("B01 an endless Loop model is cancelled: the engine process is gone, nothing spins, another tenant's audit runs", async () => {
    const s = await startEngineServer();
    try {
      const id = await submitWith(s, endlessLoopEncoder());
      const pid = await engineSpinning(s.executor as WorkerEngineExecutor);
      // Queued behind the endless audit: it starts the moment the cancel settles, while the old
      // engine process is still being killed — it must get a fresh one.
      const bobInputs = await uploadAuditInputs(s.bob, { ...tinyEncoderPair(), candidates: randomNpy(3, 16, 7) });
      const waiting = await s.bob.submit({ ...bobInputs, config: { views: 2 } });
      assert.equal(waiting.status, 202);
      const cancel = await s.alice.json(`/v1/audits/${id}:cancel`, { method: "POST" });
      assert.ok([200, 202].includes(cancel.status), JSON.stringify(cancel.body));
      assert.equal((await s.alice.waitFor(id)).state, "cancelled");
      await waitUntil("the engine process is gone", () => !alive(pid), 10_000);
      const queuedBehind = await s.bob.waitFor(waiting.body.id);
      assert.equal(queuedBehind.state, "succeeded", JSON.stringify(queuedBehind.error));
      // Nothing of the endless run is left: this process (the service) is idle.
      const before = cpuTicks(process.pid)!;
      await sleep(1000);
      const used = cpuTicks(process.pid)! - before;
      assert.ok(used < 50, `the service used ${used} ticks of CPU in an idle second`);
      await otherTenantCompletes(s);
    } finally {
      await s.close();
    }
  });

  it("B02 an endless Loop model hits the per-point deadline: failed with audit_timeout (422)", async () => {
    const s = await startEngineServer({ config: { limits: { pointTimeoutMs: 1500 } } });
    try {
      const id = await submitWith(s, endlessLoopEncoder(), { batchSize: 1 });
      const failed = await s.alice.waitFor(id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "audit_timeout", JSON.stringify(failed.error) + s.logs.filter((l) => /"level":[56]0/.test(l)).join(""));
      assert.equal(failed.error?.status, 422);
      assert.match(String(failed.error?.detail), /1500 ms per point/);
      await otherTenantCompletes(s);
    } finally {
      await s.close();
    }
  });

  it("B03 a model that needs gigabytes per run fails with resource_exhausted (422) at the engine's memory ceiling", async () => {
    const ceiling = 384 * 2 ** 20;
    const s = await startEngineServer({ config: { limits: { engineMemoryBytes: ceiling, engineHeapMiB: 256 } } });
    try {
      const rssBefore = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
      const id = await submitWith(s, memoryHogEncoder(2 ** 29));
      const failed = await s.alice.waitFor(id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "resource_exhausted", JSON.stringify(failed.error));
      assert.equal(failed.error?.status, 422);
      assert.match(String(failed.error?.detail), /384 MiB/);
      const rssAfter = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
      assert.ok(rssAfter - rssBefore < 256 * 2 ** 20, `the service itself grew by ${Math.round((rssAfter - rssBefore) / 2 ** 20)} MiB`);
      await otherTenantCompletes(s);
    } finally {
      await s.close();
    }
  });

  it("B19 a model whose run asks ONNX Runtime for 4 TiB (allocation failure) fails with resource_exhausted (422), not a 5xx", async () => {
    const s = await startEngineServer();
    try {
      const id = await submitWith(s, memoryHogEncoder(2 ** 40));
      const failed = await s.alice.waitFor(id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "resource_exhausted", JSON.stringify(failed.error));
      assert.equal(failed.error?.status, 422);
      assert.match(String(failed.error?.detail), /needed more memory/);
      assert.doesNotMatch(String(failed.error?.detail), /\.cc:\d|onnxruntime::|\/onnxruntime_src/, "no C++ source or signature");
      await otherTenantCompletes(s);
    } finally {
      await s.close();
    }
  });

  it("B04 SIGTERM with an endless Loop mid-run: `sslmem serve` checkpoints the audit and exits within its grace period, its engine gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-sigterm-"));
    const server = await spawnSslmem("serve", {
      SSLMEM_DATA_DIR: dir,
      SSLMEM_PORT: "0",
      SSLMEM_AUTH: "disabled",
      SSLMEM_PROVIDERS: "cpu",
      SSLMEM_THREADS: "1",
      SSLMEM_SHUTDOWN_GRACE_MS: "3000",
    });
    try {
      const client = new ServiceClient(server.url, null);
      const id = await submitWith({ alice: client }, endlessLoopEncoder());
      let engine: number | undefined;
      await waitUntil("the engine process exists", () => (engine = childrenOf(server.pid)[0]) !== undefined);
      const before = cpuTicks(engine!)!;
      await waitUntil("the engine burns CPU", () => (cpuTicks(engine!) ?? 0) - before >= 50, 60_000);
      const sent = Date.now();
      server.child.kill("SIGTERM");
      const exit = await Promise.race([server.exited, sleep(15_000).then(() => undefined)]);
      assert.ok(exit, `sslmem serve was still alive ${Date.now() - sent} ms after SIGTERM`);
      assert.equal(exit.code, 0, server.output.join(""));
      assert.ok(Date.now() - sent < 3000 + 5000, `exited ${Date.now() - sent} ms after SIGTERM`);
      assert.ok(!alive(engine!), "the engine process is gone");
      assert.match(server.output.join(""), /checkpointed for shutdown/);
      assert.ok(existsSync(join(dir, "sslmem.db")));
      void id;
    } finally {
      await server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
