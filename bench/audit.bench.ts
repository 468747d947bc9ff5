/**
 * `npm run bench`: end-to-end audit throughput against its limit, for three encoders, measured in
 * the same run (limit and audit interleaved batch by batch in one process, so other load on the
 * machine affects both alike):
 *
 *   fixture   the fixture's SimCLR ResNet (0.3 M parameters) at 32×32, 32×32 PNG sources
 *   conv64    a 64×64 convnet (four stride-2 stages), 80×80 PNG sources
 *   resnet18  torchvision's ResNet-18 architecture at 224×224 (random weights), 256×256 PNG sources
 *
 *   limit   both encoders alone (target then reference, their own sessions), views already in
 *           memory, one batch of as many views after each audit batch, timed apart, in each of
 *           the two fastest arrangements the probe below found (each in a process of its own):
 *           the one faster over all rounds is the limit;
 *   audit   measurePoints over a directory of PNG files: decode, seeded view sampling, the batch
 *           pipeline (one composed graph per batch), per-point measurements;
 *   ratio   audit views/s ÷ limit views/s (target ≥ 0.9), the median round of R (with the range:
 *           under other load a single round can even exceed 1, so the best would flatter);
 *   batch, peak RSS, points/s: from a run of the audit alone in a child process on the compiled
 *           dist/, with the batch size planned from the default memory budget (the ratio runs
 *           use that batch size).
 *
 * ORT intra-op threads are chosen by measurement: a short audit is timed with 1…cores threads,
 * and the limit, at the audit's planned batch size, with 1…cores threads, each with ORT's CPU arena
 * on and off ("a") and with idle pool threads sleeping or spinning briefly as the audit's do ("s"),
 * twice; each uses its fastest (printed as "threads (limit/audit)"). (Two sessions side by side on
 * one thread do not run at once — onnxruntime-node runs a session's run on the calling thread. Two
 * worker threads with a one-thread session each do, on separate batches: the encoders alone ran
 * ~4–6 % faster so on this machine, an arrangement the audit cannot use today and the limit does
 * not include — README, the 16:18 run.) Every line prints the load average: on a shared machine
 * the figures move with it.
 *
 * Options: --encoder fixture|conv64|resnet18|all (default all) --points-scale S (default 1)
 *          --views K (default 16) --rounds R (default 3) --providers LIST (default cpu; e.g. cuda
 *          or webgpu on a GPU host, see scripts/gpu-proof.sh) --threads LIST (the thread counts
 *          probed; default 1…cores) --passes P (passes over the limit's arrangements; default 2).
 *          The last two size the probes for a many-core GPU host, where 1…cores × 4 arrangements
 *          × 2 passes of child processes would take most of a short lease. --staging inline|thread
 *          (where batches are sampled and packed, src/engine/staging.ts; default the engine's:
 *          inline on the cpu provider, a thread on any other). --batch-size N (the audit's
 *          batchSize, the most points a batch holds; the memory budget may plan fewer; default the
 *          config's, 8). --augmentation graph|host (where the composed pipeline makes the views,
 *          src/engine/batch-packing.ts; default the engine's: on the host when the addon is built,
 *          for the cpu provider and for views of at most 128 a side on others; in the graph
 *          otherwise).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CASES, root, writeImages, type BenchCase } from "./cases.ts";

const { values } = parseArgs({
  options: {
    encoder: { type: "string", default: "all" },
    "points-scale": { type: "string", default: "1" },
    views: { type: "string", default: "16" },
    rounds: { type: "string", default: "3" },
    providers: { type: "string", default: "cpu" },
    threads: { type: "string" },
    passes: { type: "string", default: "2" },
    staging: { type: "string" },
    augmentation: { type: "string" },
    "batch-size": { type: "string" },
  },
});
const K = Number(values.views);
const providers = values.providers!.split(",").map((p) => p.trim()).filter(Boolean);
const rounds = Number(values.rounds);
const scale = Number(values["points-scale"]);
const child = join(root, "bench/audit-child.mjs");
const threadCounts = values.threads === undefined ? Array.from({ length: availableParallelism() }, (_, i) => i + 1) : values.threads.split(",").map(Number);
if (threadCounts.length === 0 || threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--threads wants positive integers, got ${values.threads}`);
const passes = Number(values.passes);
if (!Number.isInteger(passes) || passes < 1) throw new Error(`--passes wants a positive integer, got ${values.passes}`);
const batchSize = values["batch-size"] === undefined ? undefined : Number(values["batch-size"]);
if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new Error(`--batch-size wants a positive integer, got ${values["batch-size"]}`);
if (values.staging !== undefined && values.staging !== "inline" && values.staging !== "thread") throw new Error(`--staging wants inline or thread, got ${values.staging}`);
if (values.augmentation !== undefined && values.augmentation !== "graph" && values.augmentation !== "host") throw new Error(`--augmentation wants graph or host, got ${values.augmentation}`);

interface ChildResult {
  viewsPerSec: number;
  /** The ratio's limit in each arrangement it ran (`limits`), in order. */
  limitsViewsPerSec?: number[];
  pointsPerSec?: number;
  peakRss: number;
  batchSize?: number;
  perPointMiB?: number | null;
  pipeline?: { mode: string; reason?: string; staging?: string; augmentation?: string };
  provider?: string;
}

function runChild(args: object): ChildResult {
  const r = spawnSync(process.execPath, [child, JSON.stringify(args)], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ChildResult;
}

function load(): string {
  return loadavg().map((x) => x.toFixed(2)).join(" ");
}

function startupMs(): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, [join(root, "bin/sslmem.js"), "--help"], { encoding: "utf8" });
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[2];
}

interface Row {
  name: string;
  points: number;
  threads: number;
  limitThreads: number;
  batch: number;
  limit: number;
  audit: number;
  pointsPerSec: number;
  peakRssMiB: number;
  pipeline: string;
  provider: string;
  /** "2": target then reference with 2 threads; "a": with the CPU arena; "s": idle threads spin briefly. */
  limitConfig: string;
  /** Every round's ratio, in order. */
  ratios: string;
  /** Load averages (1, 5, 15 min) when the case finished. */
  load: string;
}

async function benchCase(c: BenchCase): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-bench-"));
  try {
    const points = Math.max(3, Math.round(c.points * scale));
    const { target, reference } = c.models();
    writeFileSync(join(dir, "target.onnx"), target);
    writeFileSync(join(dir, "reference.onnx"), reference);
    await writeImages(join(dir, "images"), points, c.source);
    const common = { target: join(dir, "target.onnx"), reference: join(dir, "reference.onnx"), size: c.size, pairs: K, providers, ...(values.staging ? { staging: values.staging } : {}), ...(values.augmentation ? { augmentation: values.augmentation } : {}) };
    const perPoint = 2 * K;

    // The audit's threads, chosen by measurement on short runs over 1…cores threads (--threads).
    let threads = threadCounts[0];
    let fastestAudit = 0;
    const probePoints = Math.min(points, Math.max(4, Math.round(points / 8)));
    for (const t of threadCounts) {
      const a = runChild({ ...common, mode: "audit", threads: t, images: join(dir, "images"), preprocessing: c.preprocessing, points: probePoints, batchSize: 8 });
      process.stderr.write(`  ${c.name}: ${t} thread(s): audit ${a.viewsPerSec.toFixed(1)} views/s (load ${load()})\n`);
      if (a.viewsPerSec > fastestAudit) [fastestAudit, threads] = [a.viewsPerSec, t];
    }

    // The audit alone: batch size planned from the memory budget, peak RSS, points/s.
    const audit = runChild({ ...common, mode: "audit", threads, images: join(dir, "images"), preprocessing: c.preprocessing, ...(batchSize ? { batchSize } : {}) });
    process.stderr.write(`  ${c.name}: audit ${audit.viewsPerSec.toFixed(1)} views/s, batch ${audit.batchSize}, peak RSS ${(audit.peakRss / 2 ** 20).toFixed(0)} MiB (load ${load()})\n`);

    // The limit's arrangements — 1…cores threads, ORT's CPU arena on and off, idle pool threads
    // sleeping or spinning briefly as the audit's (providers.ts) — probed at the audit's batch size
    // (the fixture's limit at 256 views a batch ran at 3 976–4 908 views/s without the arena over
    // this machine's runs, 4 564–4 972 with it; at 64 views, where this probe ran before, the two
    // measured alike, and a pick made once could be the slower one, which flatters the ratio). Two
    // passes; each arrangement's best counts.
    const viewsPerBatch = perPoint * (audit.batchSize ?? 8);
    const limitProbe = { ...common, mode: "limit", viewsPerBatch, totalViews: Math.max(perPoint * probePoints, 2 * viewsPerBatch) };
    const arrangements = threadCounts.flatMap((t) =>
      [false, true].flatMap((arena) => (["sleep", "brief-spin"] as const).map((wait) => ({ threads: t, arena, wait, best: 0 }))),
    );
    for (let pass = 0; pass < passes; pass++) {
      for (const x of arrangements) {
        const l = runChild({ ...limitProbe, threads: x.threads, limitArena: x.arena, limitWait: x.wait });
        process.stderr.write(`  ${c.name}: ${x.threads} thread(s), arena ${x.arena ? "on" : "off"}, ${x.wait}: limit ${l.viewsPerSec.toFixed(1)} views/s (load ${load()})\n`);
        x.best = Math.max(x.best, l.viewsPerSec);
      }
    }
    // The ratio's limit runs in the two fastest, each after every audit batch; the one faster over
    // all rounds is the limit of every round (a per-round maximum of two would favour the limit).
    const contenders = [...arrangements].sort((a, b) => b.best - a.best).slice(0, 2);
    const limits = contenders.map((x) => ({ limitThreads: x.threads, limitArena: x.arena, limitWait: x.wait }));
    const label = (x: { threads: number; arena: boolean; wait: string }) => `${x.threads}${x.arena ? "a" : ""}${x.wait === "brief-spin" ? "s" : ""}`;

    // The ratio: audit and limit interleaved batch by batch at that batch size; the median round.
    const results: ChildResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const x = runChild({ ...common, mode: "ratio", threads, limits, images: join(dir, "images"), preprocessing: c.preprocessing, batchSize: audit.batchSize });
      const each = contenders.map((a, i) => `${label(a)} ${x.limitsViewsPerSec![i].toFixed(1)}`).join(", ");
      process.stderr.write(`  ${c.name} round ${r + 1}: audit ${x.viewsPerSec.toFixed(1)} views/s, limit ${each} views/s (load ${load()})\n`);
      results.push(x);
    }
    const total = (i: number) => results.reduce((sum, x) => sum + x.limitsViewsPerSec![i], 0);
    const used = contenders.map((_, i) => i).reduce((a, b) => (total(b) > total(a) ? b : a));
    const limitUsed = contenders[used];
    const limitOf = (x: ChildResult) => x.limitsViewsPerSec![used];
    const ratioOf = (x: ChildResult) => x.viewsPerSec / limitOf(x);
    const sorted = [...results].sort((x, y) => ratioOf(x) - ratioOf(y));
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    const ratios = results.map(ratioOf);
    process.stderr.write(`  ${c.name}: the limit is ${label(limitUsed)}, the faster over the ${rounds} rounds\n`);
    return {
      name: c.name,
      points,
      threads,
      limitThreads: limitUsed.threads,
      batch: audit.batchSize ?? 0,
      limit: limitOf(median),
      audit: median.viewsPerSec,
      ratios: ratios.map((r) => r.toFixed(2)).join(" "),
      pointsPerSec: audit.pointsPerSec ?? 0,
      peakRssMiB: audit.peakRss / 2 ** 20,
      pipeline: audit.pipeline
        ? `${audit.pipeline.mode}${audit.pipeline.augmentation === "host" ? ", views on the host" : audit.pipeline.augmentation === "graph" ? ", views in the graph" : ""}${audit.pipeline.staging === "thread" ? ", staged on a thread" : ""}${audit.pipeline.reason ? ` (${audit.pipeline.reason})` : ""}`
        : "?",
      limitConfig: label(limitUsed),
      load: load(),
      provider: audit.provider ?? "?",
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const chosen = values.encoder === "all" ? CASES : CASES.filter((c) => c.name === values.encoder);
if (chosen.length === 0) throw new Error(`unknown --encoder ${values.encoder}; one of ${CASES.map((c) => c.name).join(", ")}, all`);
const rows: Row[] = [];
for (const c of chosen) {
  process.stderr.write(`bench: ${c.name} (${c.size}×${c.size})…\n`);
  rows.push(await benchCase(c));
}
const help = startupMs();

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`\nsslmem bench — ${new Date().toISOString().slice(0, 10)}, K=${K} pairs (${2 * K} views/point), provider ${[...new Set(rows.map((r) => r.provider))].join("/")}, ${availableParallelism()} cores, median of ${rounds} rounds${values.threads === undefined && passes === 2 ? "" : `, threads probed ${threadCounts.join(",")} in ${passes} pass(es)`}${values.staging ? `, staging ${values.staging}` : ""}${values.augmentation ? `, views made in the ${values.augmentation}` : ""}${batchSize ? `, batch size at most ${batchSize}` : ""}`);
console.log("encoder    points threads(limit/audit) batch  limit views/s  audit views/s  ratio  peak RSS MiB  points/s  load (1/5/15 min)  rounds          pipeline");
for (const r of rows) {
  const ratio = r.audit / r.limit;
  console.log(
    `${r.name.padEnd(10)} ${pad(r.points, 6)} ${pad(`${r.limitConfig}/${r.threads}`, 21)} ${pad(r.batch, 5)}  ${pad(r.limit.toFixed(1), 13)}  ${pad(r.audit.toFixed(1), 13)}  ${ratio.toFixed(2)}  ${pad(r.peakRssMiB.toFixed(0), 12)}  ${pad(r.pointsPerSec.toFixed(2), 8)}  ${r.load.padEnd(17)}  ${r.ratios.padEnd(14)}  ${r.pipeline}${ratio >= 0.9 ? "" : "  (target ≥ 0.90 NOT met)"}`,
  );
}
console.log("threads: ORT intra-op threads chosen by measurement; limit a = with ORT's CPU arena. pipeline: fused = one composed graph per batch (views made on the host CPU or in the graph), chained = separate sessions (reason).");
console.log(`sslmem --help start-up: ${help.toFixed(0)} ms (median of 5, compiled dist/)`);
