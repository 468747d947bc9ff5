// One measurement of `npm run bench` (bench/audit.bench.ts), in its own process so that its peak
// resident size is its own. Plain JavaScript on the compiled dist/, as `sslmem` runs: no
// TypeScript loader in the measured process.
//
//   node bench/audit-child.mjs '{"mode":"audit"|"ratio"|"limit", ...}'   → one JSON line on stdout
//
// limit: both encoders alone (target then reference) on batches of views already in memory (the
//        thread-count probe);
// audit: measurePoints over an image directory (PNG decode, view sampling, the batch pipeline,
//        per-point measurements handed to a no-op store), from the first batch to the last;
// ratio: the audit with a limit batch interleaved after each of its batches (see below).
// limit-server: the limit's sessions in a process of their own, for the ratio (one batch per message).
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";

const dist = new URL("../dist/", import.meta.url);
const { AuditConfigSchema } = await import(new URL("core/audit-config.js", dist).href);
const { openPointSet } = await import(new URL("data/sources.js", dist).href);
const { prepareAudit } = await import(new URL("engine/audit.js", dist).href);
const { measurePoints } = await import(new URL("engine/measure.js", dist).href);
const { createSession } = await import(new URL("engine/session.js", dist).href);
const { peakRss } = await import(new URL("engine/memory.js", dist).href);
const { intraOpWait } = await import(new URL("engine/providers.js", dist).href);

const args = JSON.parse(process.argv[2]);
// The audit's provider list, as the limit's sessions take it: the chosen provider, then cpu.
const providers = [...new Set([...(args.providers ?? ["cpu"]), "cpu"])];
const target = readFileSync(args.target);
const reference = readFileSync(args.reference);

function emit(result) {
  process.stdout.write(`${JSON.stringify({ ...result, peakRss: peakRss() })}\n`);
}

/** Both encoders alone on views already in memory: `run(n)` runs each once on n views. */
async function limitRunner() {
  const threads = args.limitThreads ?? args.threads;
  // limitArena: with ORT's CPU arena, else without; limitWait: how idle pool threads wait
  // (providers.ts: "brief-spin", as the audit's sessions, or "sleep").
  const opts = { executionProviders: providers, intraOpNumThreads: threads, graphOptimizationLevel: "all", executionMode: "sequential", enableCpuMemArena: Boolean(args.limitArena), extra: { session: { intra_op: intraOpWait(args.limitWait ?? "sleep") } } };
  const sessions = [await ort.InferenceSession.create(target, opts), await ort.InferenceSession.create(reference, opts)];
  const feeds = new Map();
  const feedsFor = (n) => {
    if (!feeds.has(n)) {
      const views = new Float32Array(n * 3 * args.size * args.size);
      for (let i = 0; i < views.length; i++) views[i] = Math.sin(i) * 0.5;
      feeds.set(n, sessions.map((s) => ({ [s.inputNames[0]]: new ort.Tensor("float32", views, [n, 3, args.size, args.size]) })));
    }
    return feeds.get(n);
  };
  const run = async (n) => {
    const f = feedsFor(n);
    for (const [i, s] of sessions.entries()) await s.run(f[i], [s.outputNames[0]]);
  };
  return { run, feedsFor, release: () => Promise.all(sessions.map((s) => s.release())) };
}

/**
 * The limit of the ratio in a process of its own: the encoders' sessions (with ORT's CPU arena,
 * when that is their fastest arrangement, gigabytes of it) do not share the audit's heap — in one
 * process they slowed ResNet-18's audit batches by ~15 % (19.3 against 22.7 views/s). `run(n)`
 * resolves with the seconds one batch of n views took there.
 */
function limitProcess(arrangement) {
  const child = fork(new URL(import.meta.url), [JSON.stringify({ ...args, ...arrangement, mode: "limit-server" })], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const replies = [];
  child.on("message", (m) => replies.shift()?.(m));
  const ask = (m) => new Promise((resolve) => {
    replies.push(resolve);
    child.send(m);
  });
  return {
    run: async (n) => (await ask({ n })).seconds,
    release: async () => {
      await ask({ release: true });
      child.disconnect();
    },
  };
}

if (args.mode === "limit-server") {
  const limit = await limitRunner();
  process.on("message", async (m) => {
    if (m.release) {
      await limit.release();
      process.send({ released: true });
      return;
    }
    limit.feedsFor(m.n); // preparing the input is not the limit's work
    const t0 = performance.now();
    await limit.run(m.n);
    process.send({ seconds: (performance.now() - t0) / 1000 });
  });
} else if (args.mode === "limit") {
  // Only the thread-count probe: the limit of the table is measured interleaved with the audit.
  const limit = await limitRunner();
  await limit.run(args.viewsPerBatch); // warm-up
  const batches = Math.max(1, Math.round(args.totalViews / args.viewsPerBatch));
  const start = performance.now();
  for (let b = 0; b < batches; b++) await limit.run(args.viewsPerBatch);
  const seconds = (performance.now() - start) / 1000;
  emit({ viewsPerSec: (batches * args.viewsPerBatch) / seconds, seconds });
} else {
  // audit: the whole audit alone, batch size from the memory budget (its peak RSS and points/s).
  // ratio: the same audit at the batch size the audit run planned (no probe), with a limit batch of
  // the same number of views run after every audit batch and timed apart, so that load from
  // elsewhere on the machine falls on both alike. `limits` lists the limit's arrangements
  // ({limitThreads, limitArena, limitWait}), each in a process of its own, each run after every
  // audit batch (a probe's pick among close arrangements is noise: audit.bench.ts takes the one
  // faster over all rounds).
  const ratio = args.mode === "ratio";
  const candidates = await openPointSet(args.images);
  const to = args.points ?? candidates.size;
  const config = AuditConfigSchema.parse({ views: args.pairs, seed: 0, preprocessing: args.preprocessing ?? {}, ...(args.batchSize ? { batchSize: args.batchSize } : {}) });
  let plan;
  const prepared = await prepareAudit({ target, reference, candidates }, config, {
    providers: args.providers ?? ["cpu"],
    threads: args.threads,
    onBatchPlan: (p) => (plan = p),
    ...(ratio ? { memoryBudget: null } : {}),
    ...(args.staging ? { staging: args.staging } : {}),
    ...(args.augmentation ? { augmentation: args.augmentation } : {}),
  });
  const perPoint = 2 * args.pairs;
  const limits = ratio ? (args.limits ?? [{}]).map((arrangement) => ({ arrangement, process: limitProcess(arrangement), seconds: 0 })) : [];
  // Warm-up (first runs pick kernels and allocate), not timed: a full batch for the ratio; for the
  // audit alone, its memory probe (a one-point and a two-point batch, in their own session), which
  // comes first in `sslmem audit` too, and one batch of the planned size (the arena session is made
  // for it).
  const size = prepared.context.catalog.size;
  if (ratio) await measurePoints(prepared.context, { from: 0, to: Math.min(config.batchSize, size) });
  else {
    await measurePoints(prepared.context, { from: 0, to: Math.min(3, size) });
    await measurePoints(prepared.context, { from: 0, to: Math.min(plan?.batchSize ?? config.batchSize, size) });
  }
  for (const limit of limits) await limit.process.run(config.batchSize * perPoint);
  let pausedSeconds = 0;
  let limitViews = 0;
  const start = performance.now();
  let points = 0;
  await measurePoints(prepared.context, {
    to,
    onBatch: async (rows) => {
      points += rows.length;
      if (limits.length === 0) return;
      const n = rows.length * perPoint;
      const t0 = performance.now();
      for (const limit of limits) limit.seconds += await limit.process.run(n);
      // The whole round trip is left out of the audit's time (the limit's process is idle meanwhile).
      pausedSeconds += (performance.now() - t0) / 1000;
      limitViews += n;
    },
  });
  const seconds = (performance.now() - start) / 1000 - pausedSeconds;
  for (const limit of limits) await limit.process.release();
  await prepared.release();
  await candidates.close();
  emit({
    viewsPerSec: (points * perPoint) / seconds,
    pointsPerSec: points / seconds,
    // The limit's views/s in each of its arrangements, in order.
    limitsViewsPerSec: limits.map((limit) => limitViews / limit.seconds),
    seconds,
    batchSize: plan?.batchSize ?? config.batchSize,
    perPointMiB: plan?.perPoint ? plan.perPoint / 2 ** 20 : null,
    // The memory plan's other terms (memory.ts, planBatchSize), for reading a plan that missed.
    planMiB: plan?.perPoint ? { base: plan.base / 2 ** 20, firstPoint: plan.firstPoint / 2 ** 20, held: (plan.held ?? 0) / 2 ** 20 } : null,
    pipeline: prepared.pipeline,
    provider: prepared.providers.provider,
  });
}
