/**
 * `npm run bench:staging`: whether a batch's sampling and packing on the staging thread
 * (src/engine/staging.ts) overlap the run of the batch before it. On a GPU the run leaves the
 * host's cores idle; here ONNX Runtime runs with one intra-op thread, so that one of the machine's
 * cores is free for the staging thread as a GPU run would leave it, and a small convnet with
 * large sources makes staging a visible share of a batch. Prints the audit loop's time a batch
 * (measurePoints over .npy sources, interleaved rounds, medians) staged inline and on the thread,
 * and their ratio: below 1 when the staging overlaps the runs.
 *
 *   node --import tsx bench/staging.bench.ts [view size 32] [source size 256] [points 96] [batch 8]
 */
import { loadavg } from "node:os";
import { AuditConfigSchema } from "../src/core/audit-config.ts";
import { openPointSet } from "../src/data/sources.ts";
import { prepareAudit } from "../src/engine/audit.ts";
import { measurePoints } from "../src/engine/measure.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../test/helpers/audit-inputs.ts";

const [size, source, points, batch] = [32, 256, 96, 8].map((d, i) => Number(process.argv[2 + i] ?? d));
const dir = tempDir("sslmem-staging-bench-");
const encoders = writeTinyEncoderPair(dir, size);
const set = await openPointSet(writeRandomNpy(dir, "sources.npy", points, source, source, 1));
const config = AuditConfigSchema.parse({ views: 16, seed: 1, batchSize: batch });
const audits = {
  inline: await prepareAudit({ target: encoders.targetBytes, reference: encoders.referenceBytes, candidates: set }, config, { providers: ["cpu"], threads: 1, memoryBudget: null, staging: "inline" }),
  thread: await prepareAudit({ target: encoders.targetBytes, reference: encoders.referenceBytes, candidates: set }, config, { providers: ["cpu"], threads: 1, memoryBudget: null, staging: "thread" }),
};
try {
  for (const a of Object.values(audits)) await measurePoints(a.context, { from: 0, to: 2 * batch }); // warm-up
  const times = { inline: [] as number[], thread: [] as number[] };
  for (let r = 0; r < 7; r++) {
    for (const k of ["inline", "thread"] as const) {
      const t0 = performance.now();
      await measurePoints(audits[k].context);
      times[k].push((performance.now() - t0) / Math.ceil(points / batch));
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const show = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(" ");
  console.log(`staging: views ${size}×${size}, sources ${source}×${source}, ${points} points, batch ${batch}, 1 ORT thread, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`  ms a batch (median of 7 interleaved rounds): inline ${med(times.inline).toFixed(2)} (${show(times.inline)}), thread ${med(times.thread).toFixed(2)} (${show(times.thread)}); thread / inline ${(med(times.thread) / med(times.inline)).toFixed(3)}`);
} finally {
  for (const a of Object.values(audits)) await a.release();
  await set.close();
}
