/**
 * `npm run bench`: end-to-end audit throughput against its limit, measured in the same run.
 *
 *   limit  = the raw throughput of the two encoders alone (target then reference) on batches of
 *            the same size as the audit's (batchSize points × 2K views), views already in memory;
 *   audit  = measurePoints over N points: .npy decode, seeded view sampling, the augmentation
 *            graph, both encoders, distances;
 *   ratio  = audit views/s ÷ limit views/s (target on CPU: ≥ 0.8).
 *
 * Options: --encoder resnet18|tiny|both (default both) --points N --views K --batch-size B --threads T
 *          --rounds R (limit and audit alternated R times, best of each; default 3)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { AuditConfigSchema } from "../src/core/audit-config.ts";
import { openPointSet } from "../src/data/sources.ts";
import { prepareAudit } from "../src/engine/audit.ts";
import { measurePoints } from "../src/engine/measure.ts";
import { benchEncoder, RESNET18_LIKE, TINY, type BenchEncoderSpec } from "./encoders.ts";

const { values } = parseArgs({
  options: {
    encoder: { type: "string", default: "both" },
    points: { type: "string" },
    views: { type: "string", default: "16" },
    "batch-size": { type: "string", default: "4" },
    threads: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});
const K = Number(values.views);
const batchSize = Number(values["batch-size"]);
const threads = values.threads ? Number(values.threads) : undefined;
const rounds = Number(values.rounds);

function npy(n: number, h: number, w: number): Buffer {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${n}, ${h}, ${w}, 3), }`;
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 11, " ") + "\n";
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(n * h * w * 3);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return Buffer.concat([pre, Buffer.from(header, "latin1"), data]);
}

interface Result {
  encoder: string;
  points: number;
  viewsPerPoint: number;
  limitViewsPerSec: number;
  auditViewsPerSec: number;
  auditPointsPerSec: number;
  augmentMsPerView: number;
}

async function benchOne(name: string, spec: Omit<BenchEncoderSpec, "seed">, points: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-bench-"));
  try {
    const src = Math.round(spec.size * 1.25);
    const candidatesPath = join(dir, "candidates.npy");
    writeFileSync(candidatesPath, npy(points, src, src));
    const candidates = await openPointSet(candidatesPath);
    const config = AuditConfigSchema.parse({ views: K, batchSize, seed: 0 });
    const prepared = await prepareAudit(
      { target: benchEncoder({ ...spec, seed: 1 }), reference: benchEncoder({ ...spec, seed: 2 }), candidates },
      config,
      { providers: "auto", threads },
    );
    const { target, reference, augmenter } = prepared.context;
    const perPoint = 2 * K;
    const n = batchSize * perPoint;
    const views = new Float32Array(n * target.viewSize);
    for (let i = 0; i < views.length; i++) views[i] = Math.sin(i) * 0.5;

    // Warm-up: first runs allocate arenas and pick kernels.
    await target.embed(views, n);
    await reference.embed(views, n);
    await measurePoints(prepared.context, { from: 0, to: Math.min(batchSize, points) });

    // Augmentation alone, for the breakdown.
    const image = await candidates.load(0);
    const { sampleViewsForPoint } = await import("../src/core/view-params.ts");
    const params = sampleViewsForPoint(prepared.policy, "views", 0, "bench", K, { height: src, width: src }, { height: spec.size, width: spec.size });
    let t0 = performance.now();
    const augRuns = 5;
    for (let r = 0; r < augRuns; r++) await augmenter.run(image, params);
    const augmentMsPerView = (performance.now() - t0) / (augRuns * perPoint);

    // Limit and audit, alternated over rounds (best of each) so that other load on the machine
    // affects both alike. Limit: the two encoders alone, same batch, as many batches as the audit.
    const batches = Math.ceil(points / batchSize);
    let limitSec = Infinity;
    let auditSec = Infinity;
    for (let round = 0; round < rounds; round++) {
      t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        await target.embed(views, n);
        await reference.embed(views, n);
      }
      limitSec = Math.min(limitSec, (performance.now() - t0) / 1000);
      t0 = performance.now();
      await measurePoints(prepared.context);
      auditSec = Math.min(auditSec, (performance.now() - t0) / 1000);
    }
    const limitViewsPerSec = (batches * n) / limitSec;
    await prepared.release();
    await candidates.close();
    return {
      encoder: name,
      points,
      viewsPerPoint: perPoint,
      limitViewsPerSec,
      auditViewsPerSec: (points * perPoint) / auditSec,
      auditPointsPerSec: points / auditSec,
      augmentMsPerView,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const which = values.encoder === "both" ? ["resnet18", "tiny"] : [values.encoder!];
const results: Result[] = [];
for (const name of which) {
  const spec = name === "resnet18" ? RESNET18_LIKE : TINY;
  const points = values.points ? Number(values.points) : name === "resnet18" ? 8 : 256;
  process.stderr.write(`bench: ${name} encoder (${spec.size}×${spec.size}), ${points} points × ${2 * K} views, batch ${batchSize} points…\n`);
  results.push(await benchOne(name, spec, points));
}

const f = (x: number, d = 1) => x.toFixed(d).padStart(9);
console.log(`\nsslmem bench — K=${K} pairs (${2 * K} views/point), batch ${batchSize} points, threads ${threads ?? "default"}, CPU`);
console.log("encoder     points  limit views/s  audit views/s  audit points/s  augment ms/view   ratio");
for (const r of results) {
  const ratio = r.auditViewsPerSec / r.limitViewsPerSec;
  console.log(
    `${r.encoder.padEnd(10)} ${String(r.points).padStart(6)}  ${f(r.limitViewsPerSec)}      ${f(r.auditViewsPerSec)}      ${f(r.auditPointsPerSec, 2)}       ${f(r.augmentMsPerView, 2)}    ${ratio.toFixed(2)}${r.encoder === "resnet18" ? (ratio >= 0.8 ? "  (target ≥ 0.80: met)" : "  (target ≥ 0.80: NOT met)") : ""}`,
  );
}
