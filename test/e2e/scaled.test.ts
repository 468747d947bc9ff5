/**
 * The scaled mode end to end, as deployed: one API process (`sslmem serve` with SSLMEM_QUEUE and
 * SSLMEM_DATABASE_URL), three `sslmem worker` processes, the real Redis and PostgreSQL, a shared
 * blob directory. One audit of 8 shards runs across the workers; one worker is SIGKILLed while it
 * is half-way through a shard. BullMQ's stalled-job check hands that shard to another worker,
 * which skips the committed rows; the audit completes, every point once, and the scores, p-values
 * and flags equal the embedded mode's (the local CLI on the same files) to 1e-6. The audit measures
 * LayerMem (`layers: "auto"`): every shard's per-layer rows are merged into the report's `layers`
 * section, equal to the local CLI's.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Queue } from "bullmq";
import pg from "pg";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { runLocalAudit } from "../../src/cli/audit-command.ts";
import { ReportV1Schema } from "../../src/core/report.ts";
import { shardJobId } from "../../src/jobs/queue-jobs.ts";
import { openStore } from "../../src/store/open-store.ts";
import type { Store } from "../../src/store/types.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { ServiceClient, TERMINAL, sha256Digest, type AuditView } from "../helpers/service-client.ts";
import { currentJobs, metricValue, spawnSslmem, type SslmemProcess } from "../helpers/scaled-processes.ts";
import { REDIS_TEST_URL, SKIP_REDIS, deletePrefix, requireRedis, uniquePrefix } from "../helpers/scaled.ts";
import { PG_TEST_URL, SKIP_PG, PgTestAdmin, probePostgres, uniqueSchemaName, unreachableMessage } from "../store/pg-test-db.ts";

const CANDIDATES = 240;
const CONTROLS = 80;
const TOTAL = CANDIDATES + CONTROLS;
const SHARD_SIZE = 40; // 8 shards
const VIEWS = 8;
const SEED = 42;

function withSearchPath(url: string, schema: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

const skip = SKIP_REDIS ? "SSLMEM_SKIP_REDIS=1" : SKIP_PG ? "SSLMEM_SKIP_PG=1" : false;

describe("scaled mode end to end: API + 3 workers + Redis + PostgreSQL", { skip }, () => {
  const work = tempDir("sslmem-e2e-scaled-");
  const prefix = uniquePrefix();
  const schema = uniqueSchemaName();
  const admin = new PgTestAdmin();
  const processes: SslmemProcess[] = [];
  let store: Store | undefined;

  before(async () => {
    await requireRedis();
    const why = await probePostgres();
    if (why) throw new Error(unreachableMessage(why));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.kill("SIGKILL")));
    await store?.close();
    await admin.dropSchema(schema).catch(() => undefined);
    await admin.close();
    await deletePrefix(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  it("shards one audit across the workers, survives a worker killed mid-shard, and equals the embedded result", async () => {
    const enc = writeTinyEncoderPair(work);
    const candidatesPath = writeRandomNpy(work, "candidates.npy", CANDIDATES, 20, 20, 9);
    const controlsPath = writeRandomNpy(work, "controls.npy", CONTROLS, 20, 20, 5);

    await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
    const databaseUrl = withSearchPath(PG_TEST_URL, schema);
    const dataDir = join(work, "data");
    store = await openStore({ dataDir, databaseUrl });
    const { token } = await store.createToken("team-a");

    const env = {
      SSLMEM_QUEUE: REDIS_TEST_URL,
      SSLMEM_QUEUE_PREFIX: prefix,
      SSLMEM_DATABASE_URL: databaseUrl,
      SSLMEM_DATA_DIR: dataDir,
      SSLMEM_SHARD_SIZE: String(SHARD_SIZE),
      // A dead worker's shard is handed on within ~2 s instead of the production 30 s.
      SSLMEM_QUEUE_LOCK_MS: "1500",
      SSLMEM_QUEUE_STALLED_INTERVAL_MS: "500",
      SSLMEM_PROVIDERS: "cpu",
      SSLMEM_THREADS: "1",
      SSLMEM_LOG_LEVEL: "info",
    };
    const started = await Promise.all([
      spawnSslmem("serve", { ...env, SSLMEM_PORT: "0", SSLMEM_HOST: "127.0.0.1" }),
      ...[0, 1, 2].map(() => spawnSslmem("worker", { ...env, SSLMEM_WORKER_HEALTH_PORT: "0", SSLMEM_WORKER_HEALTH_HOST: "127.0.0.1" })),
    ]);
    processes.push(...started);
    const [api, ...workers] = started;
    const client = new ServiceClient(api.url, token);
    for (const w of workers) {
      const ready = await fetch(`${w.url}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      assert.equal((await fetch(`${w.url}/livez`)).status, 200);
    }
    assert.equal((await fetch(`${api.url}/readyz`)).status, 200, "the API is ready with its queue");

    // Upload and submit through the public API, as a client would.
    const digests: Record<string, string> = {};
    for (const [role, path] of Object.entries({ target: enc.target, reference: enc.reference, candidates: candidatesPath, controls: controlsPath })) {
      digests[role] = await client.putBlob(readFileSync(path));
      assert.equal(digests[role], sha256Digest(readFileSync(path)));
    }
    const config = { views: VIEWS, seed: SEED, fpr: 0.2, batchSize: 4, layers: "auto" };
    const submitted = await client.submit({ ...digests, config });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const id = submitted.body.id;

    // Watch the workers; SIGKILL the first one caught half-way through a shard.
    let victim: { worker: SslmemProcess; shard: number; committed: number } | undefined;
    const progressSeen: number[] = [];
    let audit: AuditView = submitted.body;
    for (let polls = 0; !TERMINAL.includes(audit.state); polls++) {
      assert.ok(polls < 6000, "the audit did not finish in time");
      if (!victim) {
        for (const w of workers) {
          const text = await fetch(`${w.url}/metrics`).then((r) => r.text()).catch(() => "");
          const shard = currentJobs(text).find((j) => j.kind === "shard" && j.audit === id)?.shard;
          if (shard === undefined || shard === null) continue;
          const range = { from: shard * SHARD_SIZE, to: Math.min(TOTAL, (shard + 1) * SHARD_SIZE) };
          const committed = (await store.committedIndices(id, range)).length;
          // Well before the end of the shard, so it cannot finish between this check and the kill.
          if (committed > 0 && committed <= (range.to - range.from) / 2) {
            await w.kill("SIGKILL");
            victim = { worker: w, shard, committed };
            break;
          }
        }
      }
      audit = await client.audit(id);
      if (audit.state === "running" && audit.progress?.stage === "measuring") progressSeen.push(audit.progress.done);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(audit.state, "succeeded", JSON.stringify(audit.error));
    assert.ok(victim, "a worker was killed while half-way through a shard");
    assert.equal((await victim.worker.exited).signal, "SIGKILL");

    // The killed shard was recovered by the stalled-job check and finished by another worker.
    const queue = new Queue("sslmem", { connection: { url: REDIS_TEST_URL } as never, prefix });
    try {
      const job = await queue.getJob(shardJobId(id, victim.shard));
      assert.ok(job, "the killed shard's job is kept");
      assert.equal(await job.getState(), "completed");
      assert.ok(job.attemptsStarted >= 2, `the shard was started again after the kill (${job.attemptsStarted})`);
      assert.ok(job.stalledCounter >= 1, "through BullMQ's stalled-job check");
      assert.equal(job.failedReason, undefined, "a stall is not a failure: no attempt was used up");
      assert.notEqual(job.processedBy, `sslmem-worker-${victim.worker.pid}`, "another worker finished it");
    } finally {
      await queue.close();
    }

    // Every point exactly once.
    assert.equal(await store.countResults(id), TOTAL);
    assert.deepEqual(await store.committedIndices(id), Array.from({ length: TOTAL }, (_, i) => i));
    const layers = await store.auditLayers(id);
    assert.ok(layers.length >= 2, `the layers were recorded (${layers.length})`);
    for await (const row of store.iterateResults(id, { layers: true })) {
      assert.equal(row.layers?.length, layers.length, `point ${row.index} has a score on every layer, whichever shard measured it`);
    }

    // Progress from all workers reached the API's status.
    assert.ok(progressSeen.some((d) => d > 0 && d < TOTAL), `partial progress was visible (${progressSeen.slice(0, 5)}…)`);

    // One terminal state event, the last one of the stream.
    const sse = await client.request(`/v1/audits/${id}/events`, { headers: { accept: "text/event-stream" }, signal: AbortSignal.timeout(10_000) });
    const text = await sse.text();
    const states = [...text.matchAll(/event: state\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1]) as { state: string }).state);
    assert.deepEqual(states, ["queued", "running", "succeeded"]);
    assert.match(text, /event: plan\ndata: \{"shards":8,"points":320,"shardSize":40\}/);

    // The API exports the queue for autoscaling.
    const metrics = await fetch(`${api.url}/metrics`).then((r) => r.text());
    assert.equal(metricValue(metrics, 'sslmem_audits{state="succeeded"}'), 1);
    assert.notEqual(metricValue(metrics, 'sslmem_queue_jobs{state="waiting"}'), undefined);

    // The embedded mode on the same files.
    const argv = [
      "--target", enc.target, "--reference", enc.reference, "--candidates", candidatesPath, "--controls", controlsPath,
      "--views", String(VIEWS), "--seed", String(SEED), "--fpr", "0.2", "--batch-size", "4", "--layers", "auto", "--quiet", "--providers", "cpu", "--threads", "1",
    ];
    const { report: local } = await runLocalAudit(parseAuditCommand(argv) as never);
    const reportRes = await client.request(`/v1/audits/${id}/report?format=json`, { headers: { accept: "application/json" } });
    const remote = ReportV1Schema.parse(await reportRes.json());
    assert.equal(remote.points.length, TOTAL);
    const byId = new Map(local.points.map((p) => [`${p.role}:${p.id}`, p]));
    for (const p of remote.points) {
      const l = byId.get(`${p.role}:${p.id}`);
      assert.ok(l, `point ${p.role}:${p.id} is in both reports`);
      for (const k of ["score", "scoreNormalized", "alignTarget", "alignReference"] as const) {
        assert.ok(Math.abs(p[k] - l[k]) <= 1e-6, `${k} of ${p.id}: ${p[k]} vs ${l[k]}`);
      }
      if (p.pValue !== undefined || l.pValue !== undefined) assert.ok(Math.abs(p.pValue! - l.pValue!) <= 1e-6, `pValue of ${p.id}`);
      assert.equal(p.flagged, l.flagged, `flag of ${p.id}`);
    }
    assert.deepEqual(remote.summary.flag.parameters, local.summary.flag.parameters, "same calibration");
    assert.deepEqual(remote.layers!.layers.map((l) => l.name), local.layers!.layers.map((l) => l.name));
    remote.layers!.layers.forEach((l, i) => assert.ok(Math.abs(l.meanScore - local.layers!.layers[i].meanScore) <= 1e-6, `mean LayerMem of ${l.name}`));
    const localLayers = new Map(local.layers!.points.map((p) => [`${p.role}:${p.id}`, p]));
    for (const p of remote.layers!.points) {
      const l = localLayers.get(`${p.role}:${p.id}`)!;
      p.scores.forEach((s, k) => assert.ok(Math.abs(s - l.scores[k]) <= 1e-6, `layer ${k} of ${p.id}: ${s} vs ${l.scores[k]}`));
    }

    // The surviving workers stop gracefully on SIGTERM.
    for (const w of workers.filter((w) => w !== victim!.worker)) assert.equal((await w.kill("SIGTERM")).code, 0);
  });
});
