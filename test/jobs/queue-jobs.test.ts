/** The pure parts of the scaled mode: shard ranges, job ids, signals, settings, worker metrics, the workspace cache. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { WorkspaceCache, type AuditWorkspace } from "../../src/jobs/audit-workspace.ts";
import { auditIdOfJob, mergeJobId, parseSignal, planJobId, queueSettings, shardJobId } from "../../src/jobs/queue-jobs.ts";
import { redactRedisUrl } from "../../src/jobs/redis-ready.ts";
import { shardRanges } from "../../src/jobs/shard-plan.ts";
import { renderWorkerMetrics } from "../../src/worker/worker-metrics.ts";
import type { AuditRecord } from "../../src/store/types.ts";

describe("shardRanges", () => {
  it("cuts [0, total) into consecutive ranges of at most shardSize", () => {
    assert.deepEqual(shardRanges(10, 4), [
      { shard: 0, from: 0, to: 4 },
      { shard: 1, from: 4, to: 8 },
      { shard: 2, from: 8, to: 10 },
    ]);
    assert.deepEqual(shardRanges(8, 4), [
      { shard: 0, from: 0, to: 4 },
      { shard: 1, from: 4, to: 8 },
    ]);
    assert.deepEqual(shardRanges(3, 256), [{ shard: 0, from: 0, to: 3 }]);
    assert.deepEqual(shardRanges(0, 4), []);
  });

  it("refuses sizes that would loop forever or lose points", () => {
    assert.throws(() => shardRanges(10, 0), RangeError);
    assert.throws(() => shardRanges(10, 2.5), RangeError);
    assert.throws(() => shardRanges(-1, 4), RangeError);
  });
});

describe("job ids and signals", () => {
  const id = "aud_01M8FHDR5DYQM8VXEPE84FKXRN";

  it("derive from the audit id without BullMQ's ':' separator, and lead back to it", () => {
    for (const jobId of [planJobId(id), mergeJobId(id), shardJobId(id, 0), shardJobId(id, 41)]) {
      assert.ok(!jobId.includes(":"), jobId);
      assert.equal(auditIdOfJob(jobId), id);
    }
    assert.equal(shardJobId(id, 3), `shard-${id}-3`);
    assert.equal(auditIdOfJob("42"), undefined);
    assert.equal(auditIdOfJob("repeat:plan-aud_X"), undefined);
    assert.equal(auditIdOfJob(undefined), undefined);
  });

  it("parse only well-formed signals", () => {
    assert.deepEqual(parseSignal(JSON.stringify({ kind: "cancel", auditId: id })), { kind: "cancel", auditId: id });
    assert.deepEqual(parseSignal(JSON.stringify({ kind: "event", auditId: id, extra: 1 })), { kind: "event", auditId: id });
    assert.equal(parseSignal(JSON.stringify({ kind: "drop", auditId: id })), undefined);
    assert.equal(parseSignal(JSON.stringify({ kind: "cancel" })), undefined);
    assert.equal(parseSignal("not json"), undefined);
  });
});

describe("scaled-mode configuration", () => {
  it("reads SSLMEM_QUEUE, SSLMEM_SHARD_SIZE, the worker settings and the queue timings", () => {
    const c = loadConfig({
      SSLMEM_QUEUE: "redis://:secret@redis:6379/2",
      SSLMEM_SHARD_SIZE: "64",
      SSLMEM_WORKER_HEALTH_PORT: "9191",
      SSLMEM_WORKER_CONCURRENCY: "2",
      SSLMEM_QUEUE_PREFIX: "team-a",
      SSLMEM_QUEUE_LOCK_MS: "1500",
      SSLMEM_QUEUE_ATTEMPTS: "7",
    });
    const s = queueSettings(c);
    assert.equal(s.url, "redis://:secret@redis:6379/2");
    assert.equal(s.shardSize, 64);
    assert.equal(s.prefix, "team-a");
    assert.equal(s.name, "sslmem");
    assert.equal(s.lockMs, 1500);
    assert.equal(s.stalledIntervalMs, 30_000, "unset timings keep production defaults");
    assert.equal(s.attempts, 7);
    assert.equal(c.workerHealthPort, 9191);
    assert.equal(c.workerConcurrency, 2);
  });

  it("defaults: embedded mode, 256-point shards, health on 9090, one job at a time", () => {
    const c = loadConfig({});
    assert.equal(c.queueUrl, undefined);
    assert.equal(c.shardSize, 256);
    assert.equal(c.workerHealthPort, 9090);
    assert.equal(c.workerConcurrency, 1);
    assert.throws(() => queueSettings(c), (e: unknown) => e instanceof SslmemError && e.code === "invalid_config" && /^SSLMEM_QUEUE: /.test(e.message));
  });

  it("refuses a queue URL that is not Redis, naming the variable", () => {
    assert.throws(
      () => loadConfig({ SSLMEM_QUEUE: "amqp://rabbit" }),
      (e: unknown) => e instanceof SslmemError && e.code === "invalid_config" && /^SSLMEM_QUEUE: /.test(e.message),
    );
    assert.throws(() => loadConfig({ SSLMEM_SHARD_SIZE: "0" }), /SSLMEM_SHARD_SIZE/);
  });

  it("never shows Redis credentials in messages", () => {
    assert.equal(redactRedisUrl("redis://user:secret@redis.internal:6380/1"), "redis://redis.internal:6380");
    assert.equal(redactRedisUrl("rediss://:pw@host"), "rediss://host");
  });
});

describe("renderWorkerMetrics", () => {
  it("exports jobs by kind, points, views/s and the running jobs with their age", () => {
    const text = renderWorkerMetrics(
      {
        jobsCompleted: { plan: 1, shard: 5, merge: 1 },
        jobsFailed: 2,
        throughput: { pointsScoredTotal: 1280, viewsPerSecond: 42.5 },
        active: [{ jobId: "shard-aud_A-3", kind: "shard", auditId: "aud_A", shard: 3, since: 10_000 }],
      },
      12_500,
    );
    assert.match(text, /^sslmem_worker_jobs_completed_total\{kind="shard"\} 5$/m);
    assert.match(text, /^sslmem_worker_jobs_failed_total 2$/m);
    assert.match(text, /^sslmem_points_scored_total 1280$/m);
    assert.match(text, /^sslmem_views_per_second 42.5$/m);
    assert.match(text, /^sslmem_worker_active_jobs 1$/m);
    assert.match(text, /^sslmem_worker_current_job_seconds\{kind="shard",audit="aud_A",shard="3"\} 2.5$/m);
    assert.match(text, /^# TYPE sslmem_worker_jobs_completed_total counter$/m);
  });
});

describe("WorkspaceCache", () => {
  const audit = (id: string) => ({ id }) as AuditRecord;
  function recorder() {
    const opened: string[] = [];
    const closed: string[] = [];
    const open = async (a: AuditRecord): Promise<AuditWorkspace> => {
      opened.push(a.id);
      if (a.id === "bad") throw new SslmemError("model_invalid", "refused");
      return { auditId: a.id, close: async () => void closed.push(a.id) } as unknown as AuditWorkspace;
    };
    return { opened, closed, open };
  }

  it("opens an audit's workspace once for consecutive shards and closes it when another audit pushes it out", async () => {
    const r = recorder();
    const cache = new WorkspaceCache(r.open, { idleMs: 60_000, maxIdle: 1 });
    const a1 = await cache.lease(audit("a"));
    const a2 = await cache.lease(audit("a"));
    assert.equal(a1.workspace, a2.workspace);
    await a1.release();
    await a1.release(); // idempotent
    assert.deepEqual(r.closed, [], "still used by the second lease");
    await a2.release();
    assert.deepEqual(r.closed, [], "one idle workspace is kept");
    const b = await cache.lease(audit("b"));
    await b.release();
    assert.deepEqual(r.closed, ["a"], "the older idle one is closed");
    assert.deepEqual(r.opened, ["a", "b"]);
    await cache.forget("b");
    assert.deepEqual(r.closed, ["a", "b"]);
    await cache.close();
  });

  it("does not cache a refusal: the next shard sees the error freshly", async () => {
    const r = recorder();
    const cache = new WorkspaceCache(r.open);
    await assert.rejects(cache.lease(audit("bad")), /refused/);
    await assert.rejects(cache.lease(audit("bad")), /refused/);
    assert.deepEqual(r.opened, ["bad", "bad"]);
    await cache.close();
  });
});
