/**
 * `npm run bench:scale`: how the scaled mode scales with worker processes, and what the merge costs.
 *
 * 1. Throughput: the same audit (bench encoders, .npy candidates) run by 1 and by 2 `sslmem worker`
 *    processes on this machine, one ONNX Runtime thread each (SSLMEM_THREADS=1), through the real
 *    queue (Redis) and a shared store (SQLite in WAL mode on one machine; --database-url for
 *    PostgreSQL). Measured from the audit's events: the measuring phase (first shard's rows to the
 *    last one) and end to end (enqueue to succeeded, with plan, model loading and merge).
 * 2. Merge: 10^5 synthetic measured rows appended to a store, then the merge's finalize step timed
 *    (read every row, normalization + calibration + flags, write the per-point results back).
 *
 * Needs Redis at SSLMEM_TEST_REDIS_URL (default redis://127.0.0.1:6379).
 * Options: --encoder tiny|medium|resnet18 (default medium) --points N (default 192) --views K
 *          (default 8) --shard-size S (default 16) --workers 1,2 --merge-points N (default 100000)
 *          --database-url postgres://… (PostgreSQL for both parts; default SQLite)
 *          --skip-throughput --skip-merge
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { AuditConfigSchema } from "../src/core/audit-config.ts";
import type { PointMeasurement } from "../src/core/scores.types.ts";
import { openPointSet } from "../src/data/sources.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../src/engine/audit.ts";
import { BullMqRunner } from "../src/jobs/bullmq-runner.ts";
import { finalizeFromStore } from "../src/jobs/execute-audit.ts";
import type { QueueSettings } from "../src/jobs/queue-jobs.ts";
import { FileBlobStore } from "../src/store/blob-store.ts";
import { openStore } from "../src/store/open-store.ts";
import type { ResultRow, Store } from "../src/store/types.ts";
import { benchEncoder, RESNET18_LIKE, TINY, type BenchEncoderSpec } from "./encoders.ts";
import { createQueuedAudit, deletePrefix, randomNpyBytes, requireRedis, REDIS_TEST_URL } from "../test/helpers/scaled.ts";
import { spawnSslmem, type SslmemProcess } from "../test/helpers/scaled-processes.ts";
import { AuditService } from "../src/audits/audit-service.ts";

const { values } = parseArgs({
  options: {
    encoder: { type: "string", default: "medium" },
    points: { type: "string", default: "192" },
    views: { type: "string", default: "8" },
    "shard-size": { type: "string", default: "16" },
    workers: { type: "string", default: "1,2" },
    "merge-points": { type: "string", default: "100000" },
    "database-url": { type: "string" },
    "skip-throughput": { type: "boolean", default: false },
    "skip-merge": { type: "boolean", default: false },
  },
});

/** Between the fixture encoders and ResNet-18: the encoders, not the pipeline, dominate. */
const MEDIUM: Omit<BenchEncoderSpec, "seed"> = { size: 64, widths: [32, 64, 128], depth: 1, dim: 128 };
const SPECS: Record<string, Omit<BenchEncoderSpec, "seed">> = { tiny: TINY, medium: MEDIUM, resnet18: RESNET18_LIKE };
const spec = SPECS[values.encoder!];
if (!spec) throw new Error(`--encoder must be one of ${Object.keys(SPECS).join(", ")}`);
const POINTS = Number(values.points);
const VIEWS = Number(values.views);
const SHARD_SIZE = Number(values["shard-size"]);
const WORKER_COUNTS = values.workers!.split(",").map(Number);
const MERGE_POINTS = Number(values["merge-points"]);
const databaseUrl = values["database-url"];
const silent = pino({ level: "silent" });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunResult {
  workers: number;
  measuringSec: number;
  endToEndSec: number;
  shardsByWorker: number[];
}

async function runWith(workers: number, dataDir: string, store: Store, blobs: FileBlobStore, inputs: Parameters<typeof createQueuedAudit>[2]): Promise<RunResult> {
  const prefix = `sslmem-bench-${process.pid}-${randomBytes(3).toString("hex")}`;
  const settings: QueueSettings = {
    url: REDIS_TEST_URL,
    name: "sslmem",
    prefix,
    shardSize: SHARD_SIZE,
    lockMs: 30_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    attempts: 3,
    backoffMs: 1000,
  };
  const env: Record<string, string> = {
    SSLMEM_QUEUE: REDIS_TEST_URL,
    SSLMEM_QUEUE_PREFIX: prefix,
    SSLMEM_DATA_DIR: dataDir,
    SSLMEM_SHARD_SIZE: String(SHARD_SIZE),
    SSLMEM_PROVIDERS: "cpu",
    SSLMEM_THREADS: "1",
    SSLMEM_WORKER_HEALTH_PORT: "0",
    SSLMEM_WORKER_HEALTH_HOST: "127.0.0.1",
    SSLMEM_LOG_LEVEL: "warn",
    ...(databaseUrl ? { SSLMEM_DATABASE_URL: databaseUrl } : {}),
  };
  const procs: SslmemProcess[] = await Promise.all(Array.from({ length: workers }, () => spawnSslmem("worker", env)));
  const runner = new BullMqRunner({ audits: new AuditService({ store, logger: silent }), store, logger: silent, settings });
  try {
    await runner.start();
    const id = await createQueuedAudit(store, blobs, inputs, { views: VIEWS, seed: 1, batchSize: 4 });
    const t0 = performance.now();
    await runner.enqueue(id);
    for (;;) {
      const a = await store.getAuditInternal(id);
      if (a?.state === "succeeded") break;
      if (a && ["failed", "cancelled"].includes(a.state)) throw new Error(`bench audit ${a.state}: ${JSON.stringify(a.error)}`);
      await sleep(20);
    }
    const endToEndSec = (performance.now() - t0) / 1000;
    const events = [];
    for (let page = await store.readEvents(id, 0, 10_000); page.length > 0; page = await store.readEvents(id, page.at(-1)!.seq, 10_000)) events.push(...page);
    const measuring = events.filter((e) => e.type === "progress" && e.data.stage === "measuring" && (e.data.done as number) > 0);
    const first = measuring.find((e) => (e.data.done as number) > 0)!;
    const last = measuring.find((e) => e.data.done === e.data.total)!;
    // The first batch's rows mark the start (model loading excluded); scale by the points measured since.
    const measuredAfterFirst = (last.data.done as number) - (first.data.done as number);
    const measuringSec = ((Date.parse(last.createdAt) - Date.parse(first.createdAt)) / 1000) * (POINTS / measuredAfterFirst);
    const shardsByWorker = await Promise.all(
      procs.map(async (p) => {
        const text = await fetch(`${p.url}/metrics`).then((r) => r.text());
        return Number(/^sslmem_worker_jobs_completed_total\{kind="shard"\} (\d+)/m.exec(text)?.[1] ?? 0);
      }),
    );
    return { workers, measuringSec, endToEndSec, shardsByWorker };
  } finally {
    await runner.stop({ graceMs: 0 });
    await Promise.all(procs.map((p) => p.kill("SIGTERM")));
    await deletePrefix(prefix);
  }
}

/**
 * How many CPU-bound processes this machine really runs at once: the same spin loop in 1 and in
 * N processes. A VM may report 2 CPUs but give one core's worth of time; the workers' speed-up
 * cannot exceed this, so it is printed next to it.
 */
async function parallelCapacity(n: number): Promise<number> {
  const { spawn } = await import("node:child_process");
  const spin = "const t=performance.now();let x=0;for(let i=0;i<2e8;i++)x+=Math.sqrt(i);process.stdout.write(String(performance.now()-t))";
  const run = (k: number) =>
    Promise.all(
      Array.from({ length: k }, () =>
        new Promise<number>((resolve) => {
          const child = spawn(process.execPath, ["-e", spin]);
          let out = "";
          child.stdout.on("data", (c: Buffer) => (out += c.toString()));
          child.on("exit", () => resolve(Number(out)));
        }),
      ),
    );
  // Alternated, best of 3 each: other load on the machine affects both alike.
  let one = Infinity;
  let many = Infinity;
  for (let round = 0; round < 3; round++) {
    one = Math.min(one, ...(await run(1)));
    many = Math.min(many, Math.max(...(await run(n))));
  }
  return (n * one) / many;
}

async function throughput(): Promise<void> {
  await requireRedis();
  const dataDir = mkdtempSync(join(tmpdir(), "sslmem-bench-scale-"));
  const store = await openStore({ dataDir, databaseUrl });
  const blobs = await FileBlobStore.open(join(dataDir, "blobs"));
  try {
    const src = Math.round(spec.size * 1.25);
    const inputs = {
      target: benchEncoder({ ...spec, seed: 1 }),
      reference: benchEncoder({ ...spec, seed: 2 }),
      candidates: randomNpyBytes(POINTS, src, 7),
    };
    process.stderr.write(
      `bench:scale — ${values.encoder} encoder (${spec.size}×${spec.size}), ${POINTS} points × ${2 * VIEWS} views, ` +
        `shards of ${SHARD_SIZE}, store ${databaseUrl ? "postgresql" : "sqlite"}; workers: ${WORKER_COUNTS.join(", ")}\n`,
    );
    const results: RunResult[] = [];
    for (const n of WORKER_COUNTS) {
      results.push(await runWith(n, dataDir, store, blobs, inputs));
      process.stderr.write(`  ${n} worker(s) done\n`);
    }
    const maxWorkers = Math.max(...WORKER_COUNTS);
    const capacity = maxWorkers > 1 ? await parallelCapacity(maxWorkers) : 1;
    const base = results[0];
    console.log(`\nthroughput (one ORT thread per worker, ${POINTS} points, ${Math.ceil(POINTS / SHARD_SIZE)} shards)`);
    console.log("workers  measuring s  points/s  end-to-end s  points/s   shards per worker   speed-up (measuring / end-to-end)");
    for (const r of results) {
      const f = (x: number, d = 2) => x.toFixed(d).padStart(10);
      console.log(
        `${String(r.workers).padStart(7)}  ${f(r.measuringSec)} ${f(POINTS / r.measuringSec, 1)}  ${f(r.endToEndSec)}  ${f(POINTS / r.endToEndSec, 1)}   ${r.shardsByWorker.join("/").padEnd(18)}  ` +
          `${(base.measuringSec / r.measuringSec).toFixed(2)}× / ${(base.endToEndSec / r.endToEndSec).toFixed(2)}×`,
      );
    }
    console.log(
      `this machine runs ${maxWorkers} CPU-bound processes at ${capacity.toFixed(2)}× the speed of one ` +
        `(os.availableParallelism() = ${(await import("node:os")).availableParallelism()}): the bound on the speed-up above`,
    );
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A realistic ReportAuditInfo from a real (tiny) prepared audit; only its metadata is used. */
async function auditInfo(dir: string, candidates: number, controls: number) {
  const path = join(dir, "one.npy");
  writeFileSync(path, randomNpyBytes(2, 40, 1));
  const set = await openPointSet(path);
  const config = AuditConfigSchema.parse({ views: 16, fpr: 0.01 });
  const prepared = await prepareAudit({ target: benchEncoder({ ...TINY, seed: 1 }), reference: benchEncoder({ ...TINY, seed: 2 }), candidates: set }, config, { providers: ["cpu"] });
  const info = describeAudit(prepared, { id: "aud_bench", created: new Date() }, config);
  await prepared.release();
  await set.close();
  return {
    config,
    info: {
      ...info,
      candidatesSource: { kind: "npy" as const, count: candidates, skipped: 0 },
      controlsSource: { kind: "npy" as const, count: controls, skipped: 0 },
    },
  };
}

function syntheticRows(n: number, controls: number): ResultRow[] {
  let s = 42;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const rows: ResultRow[] = [];
  for (let i = 0; i < n; i++) {
    const role = i < n - controls ? ("candidate" as const) : ("control" as const);
    const alignReference = 1 + 0.1 * gauss();
    const alignTarget = alignReference - (0.02 * gauss() + (role === "candidate" && i % 97 === 0 ? 0.2 : 0));
    rows.push({ index: i, id: `img-${String(i).padStart(6, "0")}.png`, role, alignTarget, alignReference, score: alignReference - alignTarget, stdErr: 0.01, pairs: 16 });
  }
  return rows;
}

async function merge(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-bench-merge-"));
  const store = await openStore({ dataDir: dir, databaseUrl });
  try {
    const controls = Math.round(MERGE_POINTS / 10);
    const candidates = MERGE_POINTS - controls;
    const { info, config } = await auditInfo(dir, candidates, controls);
    const digest = (k: string) => `sha256:${k.repeat(64)}`;
    for (const k of ["a", "b", "c", "d"]) await store.recordBlob({ digest: digest(k), size: 1, tenant: "bench" });
    const { audit } = await store.createAudit({
      tenant: "bench",
      config: config as never,
      inputs: { target: digest("a"), reference: digest("b"), candidates: digest("c"), controls: digest("d") },
    });
    const rows = syntheticRows(MERGE_POINTS, controls);
    let t0 = performance.now();
    for (let i = 0; i < rows.length; i += 1000) await store.appendResults(audit.id, rows.slice(i, i + 1000));
    const appendSec = (performance.now() - t0) / 1000;

    // A first merge (cold: JIT, caches), then its parts and the merge again, warm.
    t0 = performance.now();
    await finalizeFromStore(store, audit.id, info, config, MERGE_POINTS);
    const coldSec = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const read: (PointMeasurement & { index: number })[] = [];
    for await (const r of store.iterateResults(audit.id)) read.push(r);
    const readSec = (performance.now() - t0) / 1000;
    t0 = performance.now();
    finalizeAudit(info, read, config);
    const computeSec = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await finalizeFromStore(store, audit.id, info, config, MERGE_POINTS);
    const mergeSec = (performance.now() - t0) / 1000;
    const writeSec = Math.max(0, mergeSec - readSec - computeSec);
    console.log(`\nmerge of ${MERGE_POINTS.toLocaleString("en")} points (${controls.toLocaleString("en")} controls, fpr), store ${databaseUrl ? "postgresql" : "sqlite"}`);
    console.log(`  rows appended by shards (1000-row batches): ${appendSec.toFixed(2)} s`);
    console.log(`  first merge (cold): ${coldSec.toFixed(2)} s`);
    console.log(`  merge (warm): ${mergeSec.toFixed(2)} s  = read ${readSec.toFixed(2)} s + normalize/calibrate/flag ${computeSec.toFixed(2)} s + write results ~${writeSec.toFixed(2)} s`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!values["skip-throughput"]) await throughput();
if (!values["skip-merge"]) await merge();
process.exit(0);
