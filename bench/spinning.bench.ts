/**
 * Throughput of two encoders run alternately (target, reference, target…), as the chained
 * pipeline does, with idle intra-op threads spinning (ORT's default), spinning briefly (sslmem's
 * setting for a session that runs alone, providers.ts) or sleeping (its setting for sessions run
 * alternately), and 1 vs 2 threads; and the CPU each burns while idle between runs.
 * Each configuration runs in its own process so idle pools of other configurations cannot interfere.
 *
 *   npm run bench:spinning -- [seconds-per-run=3] [rounds=3]
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import type { IntraOpWait } from "../src/engine/providers.ts";
import { createSession } from "../src/engine/session.ts";
import { convNet, randomViews } from "../test/helpers/tiny-encoders.ts";

const BATCH = 32;
const SIZE = 64;

async function child(wait: IntraOpWait, threads: number, mode: "pair" | "single", seconds: number) {
  const opts = { providers: ["cpu" as const], intraOpThreads: threads, wait };
  const target = await createSession(convNet({ seed: 1, height: SIZE, width: SIZE }), opts);
  const reference = mode === "pair" ? await createSession(convNet({ seed: 2, height: SIZE, width: SIZE }), opts) : target;
  const feeds = { image: new ort.Tensor("float32", randomViews(7, BATCH, SIZE, SIZE), [BATCH, 3, SIZE, SIZE]) };
  for (let i = 0; i < 3; i++) {
    await target.run(feeds);
    await reference.run(feeds);
  }
  let iterations = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await target.run(feeds);
    await reference.run(feeds);
    iterations++;
  }
  const elapsed = (performance.now() - start) / 1000;
  // CPU the process burns while idle after a run (pool threads spinning): 20 runs, each followed by 30 ms idle.
  let idleCpuMs = 0;
  for (let i = 0; i < 20; i++) {
    await target.run(feeds);
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const used = process.cpuUsage(before);
    idleCpuMs += (used.user + used.system) / 1000;
  }
  // views per second through BOTH encoders (one audit view = one target run + one reference run)
  console.log(JSON.stringify({ viewsPerSecond: (iterations * BATCH) / elapsed, idleCpuMs }));
}

const args = process.argv.slice(2);
if (args[0] === "--child") {
  const wait = args[1];
  if (wait !== "spin" && wait !== "brief-spin" && wait !== "sleep") throw new Error(`unknown wait ${wait}`);
  await child(wait, Number(args[2]), args[3] as "pair" | "single", Number(args[4]));
} else {
  const seconds = Number(args[0] ?? 3);
  const rounds = Number(args[1] ?? 3);
  const waits = ["spin", "brief-spin", "sleep"] as const;
  const configs = [
    ...waits.map((wait) => ({ wait, threads: 1, mode: "pair" as const })),
    ...waits.map((wait) => ({ wait, threads: 2, mode: "pair" as const })),
    ...waits.map((wait) => ({ wait, threads: 2, mode: "single" as const })),
  ];
  const results = new Map<string, number[]>();
  const idle = new Map<string, number[]>();
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      const out = spawnSync(process.execPath, ["--import", "tsx", self, "--child", c.wait, String(c.threads), c.mode, String(seconds)], { encoding: "utf8" });
      const line = out.stdout.trim().split("\n").at(-1) ?? "";
      const key = `${c.mode === "pair" ? "target+reference alternating" : "one session (run twice)"}, threads=${c.threads}, ${c.wait}`;
      const parsed = JSON.parse(line) as { viewsPerSecond: number; idleCpuMs: number };
      results.set(key, [...(results.get(key) ?? []), parsed.viewsPerSecond]);
      idle.set(key, [...(idle.get(key) ?? []), parsed.idleCpuMs]);
    }
  }
  console.log(`cores=${availableParallelism()} batch=${BATCH} input=${SIZE}x${SIZE} convNet 3 stages [32,64,128] → 128; ${seconds}s × ${rounds} rounds`);
  for (const [key, v] of results) {
    const sorted = [...v].sort((a, b) => a - b);
    const idleMs = [...idle.get(key)!].sort((a, b) => a - b);
    console.log(
      `${key.padEnd(62)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(6)} views/s  (runs: ${v.map((x) => x.toFixed(0)).join(", ")}); CPU while idle: ${idleMs[Math.floor(idleMs.length / 2)].toFixed(1)} ms over 20 × 30 ms`,
    );
  }
}
