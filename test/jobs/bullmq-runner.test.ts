/**
 * The scaled mode in one process: the API-side BullMqRunner and several ShardWorkers (each with
 * its own engine) on the real Redis, sharing one SQLite store and blob directory, running real
 * audits with tiny ONNX encoders. Each test uses its own BullMQ key prefix and deletes it after.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Queue, Worker } from "bullmq";
import { pino, type Logger } from "pino";
import type { AuditConfigInput } from "../../src/core/audit-config.ts";
import { BullMqRunner } from "../../src/jobs/bullmq-runner.ts";
import { EngineExecutor } from "../../src/jobs/execute-audit.ts";
import { mergeJobId, planJobId, shardJobId, type QueueSettings } from "../../src/jobs/queue-jobs.ts";
import { ShardWorker } from "../../src/jobs/shard-worker.ts";
import type { ExecutionContext } from "../../src/jobs/types.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { StoredEvent, StoredResult } from "../../src/store/types.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { encodeRgb, PNG_SIGNATURE } from "../helpers/data-png.ts";
import {
  SKIP_REDIS,
  createQueuedAudit,
  randomNpyBytes,
  tinyEncoderBytes,
  deletePrefix,
  eventually,
  requireRedis,
  storeBlob,
  testQueueSettings,
  uniquePrefix,
  type AuditBytes,
} from "../helpers/scaled.ts";
import { AuditService } from "../../src/audits/audit-service.ts";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { loadConfig } from "../../src/config.ts";
import { buildAppServices, createAppFor } from "../../src/http/app.ts";

interface Cluster {
  store: SqliteStore;
  blobs: FileBlobStore;
  settings: QueueSettings;
  runner: BullMqRunner;
  workers: ShardWorker[];
  logs: string[];
  queue: Queue;
  executor(): EngineExecutor;
  close(): Promise<void>;
}

function captureLogger(logs: string[]): Logger {
  return pino({ level: "info" }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(c.toString()), done()) }));
}

async function startCluster(workers: number, settings: Partial<QueueSettings> = {}): Promise<Cluster> {
  const dir = tempDir("sslmem-scaled-");
  const logs: string[] = [];
  const logger = captureLogger(logs);
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL" });
  const blobs = await FileBlobStore.open(join(dir, "blobs"));
  const s = testQueueSettings(uniquePrefix(), settings);
  const executor = () =>
    new EngineExecutor({ store, blobs, logger, settings: { providers: ["cpu"], threads: 1, ingest: {}, tmpDir: join(dir, "tmp") }, keepWorkspaces: { idleMs: 5_000 } });
  const runner = new BullMqRunner({ audits: new AuditService({ store, logger }), store, logger, settings: s, refreshMs: 50 });
  await runner.start();
  const started: ShardWorker[] = [];
  for (let i = 0; i < workers; i++) {
    const w = new ShardWorker({ store, executor: executor(), logger, settings: s, name: `test-worker-${i}` });
    await w.start();
    started.push(w);
  }
  const queue = new Queue(s.name, { connection: { url: s.url } as never, prefix: s.prefix });
  return {
    store,
    blobs,
    settings: s,
    runner,
    workers: started,
    logs,
    queue,
    executor,
    async close() {
      await Promise.all(started.map((w) => w.close({ graceMs: 5_000 })));
      await runner.stop({ graceMs: 0 });
      await queue.close();
      await deletePrefix(s.prefix);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CONFIG: AuditConfigInput = { views: 3, seed: 7, fpr: 0.2, batchSize: 4 };

/** 36 candidates + 12 controls = 48 points: 3 shards of 16. */
function inputs(): AuditBytes {
  return { ...tinyEncoderBytes(), candidates: randomNpyBytes(36, 20, 3), controls: randomNpyBytes(12, 20, 4) };
}

async function waitTerminal(store: SqliteStore, id: string, timeoutMs = 60_000) {
  return eventually(
    async () => {
      const a = await store.getAuditInternal(id);
      return a && ["succeeded", "failed", "cancelled"].includes(a.state) ? a : undefined;
    },
    `audit ${id} to end`,
    timeoutMs,
  );
}

async function allEvents(store: SqliteStore, id: string): Promise<StoredEvent[]> {
  return store.readEvents(id, 0, 10_000);
}

async function rows(store: SqliteStore, id: string): Promise<StoredResult[]> {
  const out: StoredResult[] = [];
  for await (const r of store.iterateResults(id)) out.push(r);
  return out;
}

const quietContext = (): ExecutionContext => ({
  signal: new AbortController().signal,
  progress: async () => {},
  event: async () => {},
  scored: () => {},
});

describe("scaled mode: BullMqRunner + ShardWorkers on Redis", { skip: SKIP_REDIS ? "SSLMEM_SKIP_REDIS=1" : false }, () => {
  let cluster: Cluster | undefined;
  before(requireRedis);
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });
  after(() => {});

  it("a sharded audit gives the same scores, normalization, p-values and flags as an unsharded run", async () => {
    cluster = await startCluster(3);
    const { store, blobs, runner } = cluster;
    const bytes = inputs();
    const sharded = await createQueuedAudit(store, blobs, bytes, CONFIG);
    await runner.enqueue(sharded);
    const done = await waitTerminal(store, sharded);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));

    // The same inputs through the embedded executor, in one piece.
    const whole = await createQueuedAudit(store, blobs, bytes, CONFIG);
    assert.ok(await store.transition(whole, ["queued"], "running"));
    const outcome = await cluster.executor().execute((await store.getAuditInternal(whole))!, quietContext());

    const a = await rows(store, sharded);
    const b = await rows(store, whole);
    assert.equal(a.length, 48, "every point once: no duplicates, none missing");
    assert.deepEqual(a.map((r) => r.index), b.map((r) => r.index));
    for (let i = 0; i < a.length; i++) {
      assert.equal(a[i].id, b[i].id);
      assert.equal(a[i].role, b[i].role);
      for (const k of ["score", "alignTarget", "alignReference", "scoreNormalized", "pValue"] as const) {
        const x = a[i][k] as number | undefined;
        const y = b[i][k] as number | undefined;
        assert.equal(typeof x, typeof y, `${k} of point ${a[i].id}`);
        if (typeof x === "number") assert.ok(Math.abs(x - (y as number)) <= 1e-6, `${k} of point ${a[i].id}: ${x} vs ${y}`);
      }
      assert.equal(a[i].flagged, b[i].flagged, `flag of point ${a[i].id}`);
    }
    assert.deepEqual((done.summary as { flag: unknown }).flag, (outcome.summary as { flag: unknown }).flag, "same calibration");

    const events = await allEvents(store, sharded);
    const states = events.filter((e) => e.type === "state").map((e) => e.data.state);
    assert.deepEqual(states, ["queued", "running", "succeeded"], "one transition each, the terminal one last");
    const plan = events.find((e) => e.type === "plan");
    assert.deepEqual(plan?.data, { shards: 3, points: 48, shardSize: 16 });
    const progress = events.filter((e) => e.type === "progress" && e.data.stage === "measuring").map((e) => e.data.done as number);
    assert.equal(Math.max(...progress), 48, "progress counts the rows of every shard");

    const completed = cluster.workers.map((w) => w.stats().jobsCompleted);
    const sum = (k: "plan" | "shard" | "merge") => completed.reduce((n, c) => n + c[k], 0);
    assert.deepEqual([sum("plan"), sum("shard"), sum("merge")], [1, 3, 1]);
    const shardJob = await cluster.queue.getJob(shardJobId(sharded, 2));
    assert.deepEqual(shardJob?.data, { auditId: sharded, shard: 2, from: 32, to: 48 });
  });

  it("does not run UnitMem: the API refuses it with invalid_config at `kind`, and one in the store fails once with that code", async () => {
    cluster = await startCluster(1);
    const { store, blobs, runner } = cluster;
    assert.deepEqual(runner.kinds, ["sslmem"]);
    // Real HTTP on 127.0.0.1 in front of the scaled runner.
    const config = loadConfig({}, { dataDir: tempDir("sslmem-scaled-api-"), port: 0 });
    const app = createAppFor(buildAppServices({ config, store, blobs, runner, logger: pino({ level: "silent" }) }));
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }) as Server;
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    try {
      const token = (await store.createToken("team-a")).token;
      const encoder = await storeBlob(blobs, store, "team-a", tinyEncoderBytes().target);
      const candidates = await storeBlob(blobs, store, "team-a", randomNpyBytes(4, 20, 1));
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/audits`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "unitmem", encoder, candidates }),
      });
      const problem = (await res.json()) as { code: string; detail: string; errors: { path: string }[] };
      assert.equal(res.status, 422);
      assert.equal(problem.code, "invalid_config");
      assert.match(problem.detail, /does not run unitmem audits/);
      assert.deepEqual(problem.errors.map((e) => e.path), ["kind"]);
      assert.deepEqual(await store.listAuditsByState(["queued"]), [], "nothing was queued");

      // A UnitMem audit that reaches the queue anyway (stored by an embedded server on the same
      // database) is not split into shards: it fails once, with a problem that says why.
      const audits = new AuditService({ store, logger: pino({ level: "silent" }) });
      const { audit } = await audits.create({ tenant: "team-a", kind: "unitmem", config: { views: 2 }, inputs: { target: encoder, candidates } });
      await runner.enqueue(audit.id);
      const done = await waitTerminal(store, audit.id);
      assert.equal(done.state, "failed");
      assert.equal((done.error as { code: string }).code, "invalid_config");
      assert.match(String((done.error as { detail: string }).detail), /unitmem audit cannot be measured as an SSLMem audit/);
      const states = (await allEvents(store, audit.id)).filter((e) => e.type === "state").map((e) => e.data.state);
      assert.deepEqual(states, ["queued", "running", "failed"]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("a user error in shards fails the audit once with that code, without retries", async () => {
    cluster = await startCluster(2, { attempts: 4, shardSize: 8 });
    const { store, blobs, runner } = cluster;
    // 24 PNGs in 3 shards of 8; two corrupt ones, in shards 0 and 2 (sorted names).
    const entries = [];
    for (let i = 0; i < 24; i++) {
      const name = `img-${String(i).padStart(2, "0")}.png`;
      const corrupt = i === 3 || i === 17;
      const data = corrupt
        ? Buffer.concat([PNG_SIGNATURE, Buffer.alloc(64, 7)])
        : await encodeRgb(18, 18, Array.from({ length: 18 * 18 * 3 }, (_, k) => (k * 31 + i * 7) % 256), "png");
      entries.push({ name, data });
    }
    const id = await createQueuedAudit(store, blobs, { ...tinyEncoderBytes(), candidates: writeTar(entries) }, { views: 2, seed: 1, batchSize: 2 });
    await runner.enqueue(id);
    const done = await waitTerminal(store, id);
    assert.equal(done.state, "failed");
    assert.equal((done.error as { code: string }).code, "image_invalid");
    assert.match(String((done.error as { detail: string }).detail), /img-(03|17)\.png.*corrupt or truncated/);

    const states = (await allEvents(store, id)).filter((e) => e.type === "state").map((e) => e.data.state);
    assert.deepEqual(states, ["queued", "running", "failed"], "failed exactly once");

    // The failing shards ran once each (UnrecoverableError: no retry), and the merge never ran.
    await eventually(async () => (await cluster!.queue.getJobCounts("active", "waiting")).active === 0, "the queue to settle", 10_000);
    for (const shard of [0, 2]) {
      const job = await cluster.queue.getJob(shardJobId(id, shard));
      if (!job) continue; // not started before the audit failed? then it is not in the failed set either
      const state = await job.getState();
      if (state === "failed") assert.equal(job.attemptsStarted, 1, `shard ${shard} was not retried`);
    }
    const merge = await cluster.queue.getJob(mergeJobId(id));
    assert.equal(await merge?.getState(), "failed", "the merge fails with its child instead of waiting forever");
    const failedShards = (await cluster.queue.getFailed()).filter((j) => j.name === "shard");
    assert.ok(failedShards.length >= 1 && failedShards.every((j) => j.attemptsStarted === 1), "no failed shard was retried");
  });

  it("cancel reaches a running shard at once; the remaining shards do nothing", async () => {
    cluster = await startCluster(1, { shardSize: 16 });
    const { store, blobs, runner } = cluster;
    // 160 points, 10 shards, one worker: the audit is mid-way when it is cancelled.
    const id = await createQueuedAudit(store, blobs, { ...tinyEncoderBytes(), candidates: randomNpyBytes(160, 20, 5) }, { views: 4, seed: 2, batchSize: 2 });
    await runner.enqueue(id);
    const worker = cluster.workers[0];
    await eventually(
      async () => worker.stats().active.some((j) => j.kind === "shard" && j.auditId === id) && (await store.countResults(id)) > 0,
      "a shard to be running",
      30_000,
      2,
    );
    const cancelledAt = Date.now();
    assert.equal(await runner.cancel(id), true);
    assert.equal((await store.getAuditInternal(id))?.state, "cancelled", "the API answers cancelled at once");

    await eventually(async () => {
      const c = await cluster!.queue.getJobCounts("active", "waiting", "waiting-children", "delayed");
      return c.active + c.waiting + c.delayed === 0 && worker.stats().active.length === 0;
    }, "every job to finish", 20_000);
    const shards = await Promise.all(Array.from({ length: 10 }, (_, k) => cluster!.queue.getJob(shardJobId(id, k))));
    const interrupted = shards.filter((j) => j?.processedOn !== undefined && j.processedOn < cancelledAt && j.finishedOn! > cancelledAt);
    assert.equal(interrupted.length, 1, "one shard was running when the cancel came");
    assert.deepEqual(interrupted[0]!.returnvalue, { skipped: "cancelled" }, "it stopped without failing");
    const later = shards.filter((j) => j?.processedOn !== undefined && j.processedOn >= cancelledAt);
    assert.ok(later.length >= 1, "shards that were still waiting ran afterwards…");
    for (const j of later) assert.deepEqual(j!.returnvalue, { skipped: "cancelled" }, "…as no-ops");

    const stored = await store.countResults(id);
    assert.ok(stored < 160, `work stopped early (${stored} of 160 rows)`);
    const events = await allEvents(store, id);
    const states = events.filter((e) => e.type === "state").map((e) => e.data.state);
    assert.deepEqual(states, ["queued", "running", "cancelled"]);
    const cancelledSeq = events.find((e) => e.type === "state" && e.data.state === "cancelled")!.seq;
    assert.ok(!events.some((e) => e.type === "progress" && e.seq > cancelledSeq), "no progress after the cancel");
    assert.equal((await cluster.queue.getJob(planJobId(id)))?.returnvalue?.shards, 10);
  });

  it("a job whose workers keep dying fails the audit instead of leaving it queued or running forever", async () => {
    cluster = await startCluster(0, { maxStalledCount: 0, lockMs: 300, stalledIntervalMs: 200 });
    const { store, blobs, runner, settings } = cluster;
    const id = await createQueuedAudit(store, blobs, inputs(), CONFIG);
    // A worker that takes the plan job and dies without a word (no lock renewal, no failure).
    const doomed = new Worker(settings.name, () => new Promise(() => {}), {
      connection: { url: settings.url } as never,
      prefix: settings.prefix,
      lockDuration: 300,
      skipLockRenewal: true,
      skipStalledCheck: true,
    });
    await runner.enqueue(id);
    await eventually(async () => (await cluster!.queue.getJob(planJobId(id)))?.processedOn !== undefined, "the doomed worker to take the plan");
    await doomed.close(true);

    const survivor = new ShardWorker({ store, executor: cluster.executor(), logger: captureLogger(cluster.logs), settings });
    await survivor.start();
    cluster.workers.push(survivor);
    const done = await waitTerminal(store, id, 20_000);
    assert.equal(done.state, "failed");
    assert.equal((done.error as { code: string }).code, "engine_failure");
    assert.doesNotMatch(JSON.stringify(done.error), /stalled|job /, "internal details stay in the log");
    assert.match(cluster.logs.join(""), /stalled more than allowable limit/);
    const states = (await allEvents(store, id)).filter((e) => e.type === "state").map((e) => e.data.state);
    assert.deepEqual(states, ["queued", "failed"]);
  });

  it("a worker stopped gracefully puts its shard back in the queue; another finishes the audit", async () => {
    cluster = await startCluster(1, { shardSize: 48 });
    const { store, blobs, runner } = cluster;
    const id = await createQueuedAudit(store, blobs, { ...tinyEncoderBytes(), candidates: randomNpyBytes(96, 20, 6) }, { views: 4, seed: 3, batchSize: 2 });
    await runner.enqueue(id);
    const first = cluster.workers[0];
    await eventually(async () => first.stats().active.some((j) => j.kind === "shard") && (await store.countResults(id)) > 0, "a shard to start", 30_000, 2);
    await first.close({ graceMs: 10_000 });
    const atStop = await store.countResults(id);
    assert.ok(atStop < 96, "stopped before the end");
    const jobs = await Promise.all([0, 1].map((k) => cluster!.queue.getJob(shardJobId(id, k))));
    const back = jobs.filter((j) => j && j.attemptsMade === 0 && j.finishedOn === undefined);
    assert.ok(back.length >= 1, "the interrupted shard is waiting again, no attempt used");

    const second = new ShardWorker({ store, executor: cluster.executor(), logger: captureLogger(cluster.logs), settings: cluster.settings });
    await second.start();
    cluster.workers.push(second);
    const done = await waitTerminal(store, id);
    assert.equal(done.state, "succeeded");
    assert.equal(await store.countResults(id), 96);
    assert.equal(done.attempt, 1, "the audit itself was never restarted");
  });
});
