/**
 * The scaled worker's engine in child processes (EngineShardExecutor) under the engine's budgets,
 * on the real Redis and a real SQLite store, with real ONNX models: a shard of a model over the
 * memory ceiling fails its audit with resource_exhausted (once, not retried) while the worker
 * lives on and takes the next audit; an endless model hits the per-point deadline
 * (audit_timeout); a cancel kills the engine process of a running shard within the abort grace;
 * an engine process killed from outside is a transient crash, retried, and the audit completes.
 * Whether an engine process is gone is read from /proc.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Queue } from "bullmq";
import { pino } from "pino";
import type { AuditConfigInput } from "../../src/core/audit-config.ts";
import { AuditService } from "../../src/audits/audit-service.ts";
import { BullMqRunner } from "../../src/jobs/bullmq-runner.ts";
import { EngineShardExecutor } from "../../src/jobs/engine-shard-executor.ts";
import type { EngineBudgets } from "../../src/jobs/engine-session.ts";
import { shardJobId, type QueueSettings } from "../../src/jobs/queue-jobs.ts";
import { ShardWorker } from "../../src/jobs/shard-worker.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { AuditRecord } from "../../src/store/types.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { endlessLoopEncoder, memoryHogEncoder } from "../helpers/hostile-encoders.ts";
import {
  SKIP_REDIS,
  createQueuedAudit,
  deletePrefix,
  eventually,
  randomNpyBytes,
  requireRedis,
  testQueueSettings,
  tinyEncoderBytes,
  uniquePrefix,
  type AuditBytes,
} from "../helpers/scaled.ts";
import { convEncoder } from "../helpers/tiny-encoders.ts";
import { alive, cpuTicks } from "../helpers/proc.ts";

const residentBytes = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;

interface Cluster {
  store: SqliteStore;
  blobs: FileBlobStore;
  runner: BullMqRunner;
  worker: ShardWorker;
  executor: EngineShardExecutor;
  queue: Queue;
  logs: string[];
  /** Starts another worker (with its own engine processes) on the same queue and store. */
  addWorker(): Promise<{ worker: ShardWorker; executor: EngineShardExecutor }>;
  /** Queues an audit over these inputs. */
  submit(bytes: AuditBytes, config: AuditConfigInput): Promise<string>;
  terminal(id: string, timeoutMs?: number): Promise<AuditRecord>;
  close(): Promise<void>;
}

async function startCluster(budgets: Partial<EngineBudgets>, settings: Partial<QueueSettings> = {}): Promise<Cluster> {
  const dir = tempDir("sslmem-shard-budgets-");
  const logs: string[] = [];
  const logger = pino({ level: "info" }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(c.toString()), done()) }));
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL" });
  const blobs = await FileBlobStore.open(join(dir, "blobs"));
  const s = testQueueSettings(uniquePrefix(), { shardSize: 4, ...settings });
  const workers: ShardWorker[] = [];
  const addWorker = async () => {
    const executor = new EngineShardExecutor({
      store,
      blobs,
      logger,
      settings: { providers: ["cpu"], threads: 1, ingest: {}, tmpDir: join(dir, "tmp") },
      budgets: { abortGraceMs: 1000, ...budgets },
      workspaces: { idleMs: 5_000, maxIdle: 1 },
    });
    const worker = new ShardWorker({ store, executor, logger, settings: s, name: `budget-worker-${workers.length}` });
    await worker.start();
    workers.push(worker);
    return { worker, executor };
  };
  const runner = new BullMqRunner({ audits: new AuditService({ store, logger }), store, logger, settings: s, refreshMs: 50 });
  await runner.start();
  const { worker, executor } = await addWorker();
  const queue = new Queue(s.name, { connection: { url: s.url } as never, prefix: s.prefix });
  return {
    store,
    blobs,
    runner,
    worker,
    executor,
    queue,
    logs,
    addWorker,
    async submit(bytes, config) {
      const id = await createQueuedAudit(store, blobs, bytes, config);
      await runner.enqueue(id);
      return id;
    },
    terminal: (id, timeoutMs = 30_000) =>
      eventually(
        async () => {
          const a = await store.getAuditInternal(id);
          return a && ["succeeded", "failed", "cancelled"].includes(a.state) ? a : undefined;
        },
        `audit ${id} to end`,
        timeoutMs,
        50,
      ),
    async close() {
      await Promise.all(workers.map((w) => w.close({ graceMs: 2_000 })));
      await runner.stop({ graceMs: 0 });
      await queue.close();
      await deletePrefix(s.prefix);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hostile target with a normal reference, 6 points of 16×16 (two shards of 4 and 2). */
const hostile = (target: Uint8Array): AuditBytes => ({ target, reference: convEncoder({ seed: 5, channels: 4 }).bytes, candidates: randomNpyBytes(6, 16, 3) });
const HOSTILE_CONFIG: AuditConfigInput = { views: 2, batchSize: 2, augment: "none", preprocessing: { normalize: "unit" } };

/** An ordinary audit completes on the same worker: it survived and takes jobs. */
async function nextAuditSucceeds(c: Cluster): Promise<void> {
  const id = await c.submit({ ...tinyEncoderBytes(), candidates: randomNpyBytes(8, 20, 9) }, { views: 2, seed: 3, batchSize: 4 });
  const done = await c.terminal(id);
  assert.equal(done.state, "succeeded", JSON.stringify(done.error));
  assert.equal(await c.store.countResults(id), 8);
}

/** The audit's failed shard ran once (UnrecoverableError: no retry) and failed with `code`. */
async function shardFailedOnce(c: Cluster, id: string, code: string): Promise<void> {
  await eventually(async () => (await c.queue.getJobCounts("active")).active === 0, "the queue to settle", 10_000);
  const job = await c.queue.getJob(shardJobId(id, 0));
  assert.ok(job, "shard 0 ran");
  assert.equal(await job.getState(), "failed");
  assert.equal(job.attemptsStarted, 1, "not retried");
  assert.match(String(job.failedReason), new RegExp(`^${code}:`));
}

describe("scaled worker: the engine in child processes, under the engine's budgets", { skip: SKIP_REDIS ? "SSLMEM_SKIP_REDIS=1" : false }, () => {
  let cluster: Cluster | undefined;
  before(requireRedis);
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });
  after(() => cluster?.close());

  it("a shard over the memory ceiling fails the audit with resource_exhausted, once; the worker takes the next audit", async () => {
    cluster = await startCluster({ memoryBytes: 384 * 2 ** 20, heapMiB: 256 });
    const rssBefore = residentBytes();
    const id = await cluster.submit(hostile(memoryHogEncoder(2 ** 29)), HOSTILE_CONFIG);
    const failed = await cluster.terminal(id);
    assert.equal(failed.state, "failed");
    assert.equal(failed.error?.code, "resource_exhausted", JSON.stringify(failed.error));
    assert.match(String(failed.error?.detail), /384 MiB/);
    await shardFailedOnce(cluster, id, "resource_exhausted");
    const grew = residentBytes() - rssBefore;
    assert.ok(grew < 256 * 2 ** 20, `the worker itself grew by ${Math.round(grew / 2 ** 20)} MiB`);
    assert.ok(cluster.worker.isReady(), "the worker is still taking jobs");
    await nextAuditSucceeds(cluster);
  });

  it("an endless model hits the per-point deadline: the audit fails with audit_timeout, once", async () => {
    cluster = await startCluster({ pointTimeoutMs: 1500 });
    const id = await cluster.submit(hostile(endlessLoopEncoder()), { ...HOSTILE_CONFIG, batchSize: 1 });
    const failed = await cluster.terminal(id);
    assert.equal(failed.state, "failed");
    assert.equal(failed.error?.code, "audit_timeout", JSON.stringify(failed.error));
    assert.match(String(failed.error?.detail), /1500 ms per point/);
    await shardFailedOnce(cluster, id, "audit_timeout");
    assert.deepEqual(cluster.executor.enginePids, [], "the engine process went with the shard");
    await nextAuditSucceeds(cluster);
  });

  it("cancel during a shard kills its engine process within the abort grace", async () => {
    cluster = await startCluster({ abortGraceMs: 1000 });
    const c = cluster;
    const id = await c.submit(hostile(endlessLoopEncoder()), HOSTILE_CONFIG);
    let pid: number | undefined;
    await eventually(async () => c.worker.stats().active.some((j) => j.kind === "shard" && j.auditId === id) && (pid = c.executor.enginePids[0]) !== undefined, "a shard to run in an engine process");
    const before = cpuTicks(pid!)!;
    await eventually(async () => (cpuTicks(pid!) ?? 0) - before >= 50, "the engine to spin inside ONNX Runtime", 30_000, 50);
    const cancelledAt = Date.now();
    assert.equal(await c.runner.cancel(id), true);
    await eventually(async () => !alive(pid!), "the engine process to be gone", 10_000, 20);
    const took = Date.now() - cancelledAt;
    assert.ok(took < 1000 + 2000, `the engine process was gone ${took} ms after the cancel (abort grace 1000 ms)`);
    assert.equal((await c.terminal(id)).state, "cancelled");
    await eventually(async () => c.worker.stats().active.length === 0, "the shard job to end");
    await nextAuditSucceeds(c);
  });

  it("an engine process killed from outside is a crash: the shard is retried and the audit completes", async () => {
    cluster = await startCluster({}, { shardSize: 16 });
    const c = cluster;
    const id = await c.submit({ ...tinyEncoderBytes(), candidates: randomNpyBytes(48, 20, 4) }, { views: 4, seed: 5, batchSize: 2 });
    let pid: number | undefined;
    await eventually(
      async () => c.worker.stats().active.some((j) => j.kind === "shard") && (await c.store.countResults(id)) > 0 && (pid = c.executor.enginePids[0]) !== undefined,
      "a shard to be measuring",
      30_000,
      2,
    );
    process.kill(pid!, "SIGKILL");
    const done = await c.terminal(id, 60_000);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    assert.deepEqual(await c.store.committedIndices(id), Array.from({ length: 48 }, (_, i) => i), "every point once");
    const shards = await Promise.all([0, 1, 2].map((k) => c.queue.getJob(shardJobId(id, k))));
    const retried = shards.filter((j) => (j?.attemptsStarted ?? 0) >= 2);
    assert.equal(retried.length, 1, "the killed shard failed once and was retried");
    assert.match(String(retried[0]!.failedReason), /SIGKILL from outside/);
    assert.ok(c.logs.some((l) => l.includes("job failed; it will be retried")));
  });

  it("SIGTERM mid-shard: the batch finishes, the engine process ends, the shard goes back to the queue and another worker completes the audit", async () => {
    cluster = await startCluster({}, { shardSize: 16 });
    const c = cluster;
    const id = await c.submit({ ...tinyEncoderBytes(), candidates: randomNpyBytes(48, 20, 6) }, { views: 4, seed: 3, batchSize: 2 });
    let pid: number | undefined;
    await eventually(
      async () => c.worker.stats().active.some((j) => j.kind === "shard") && (await c.store.countResults(id)) > 0 && (pid = c.executor.enginePids[0]) !== undefined,
      "a shard to be measuring",
      30_000,
      2,
    );
    await c.worker.close({ graceMs: 10_000 });
    assert.ok(!alive(pid!), "the engine process is gone");
    assert.ok(c.logs.some((l) => l.includes("job returned to the queue at shutdown")), "the shard went back to the queue");
    assert.equal((await c.store.getAuditInternal(id))?.state, "running", "the audit goes on");
    await c.addWorker();
    const done = await c.terminal(id, 60_000);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    assert.deepEqual(await c.store.committedIndices(id), Array.from({ length: 48 }, (_, i) => i), "every point once");
    const shards = await Promise.all([0, 1, 2].map((k) => c.queue.getJob(shardJobId(id, k))));
    assert.ok(shards.every((j) => j?.failedReason === undefined), "a shutdown uses up no attempt");
  });

  it("SIGTERM with a model that never returns: the engine process is killed after the grace and the audit is not failed", async () => {
    cluster = await startCluster({ abortGraceMs: 1000 });
    const c = cluster;
    const id = await c.submit(hostile(endlessLoopEncoder()), HOSTILE_CONFIG);
    let pid: number | undefined;
    await eventually(async () => c.worker.stats().active.some((j) => j.kind === "shard") && (pid = c.executor.enginePids[0]) !== undefined, "a shard to run in an engine process");
    const before = cpuTicks(pid!)!;
    await eventually(async () => (cpuTicks(pid!) ?? 0) - before >= 50, "the engine to spin inside ONNX Runtime", 30_000, 50);
    const closing = Date.now();
    await c.worker.close({ graceMs: 1000 });
    const took = Date.now() - closing;
    assert.ok(took < 1000 + 1000 + 3000, `the worker closed ${took} ms after SIGTERM (grace 1000 ms, abort grace 1000 ms)`);
    assert.ok(!alive(pid!), "the engine process is gone");
    assert.equal((await c.store.getAuditInternal(id))?.state, "running", "the audit is left for another worker, not failed");
  });
});
