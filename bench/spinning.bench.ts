/**
 * Throughput of two encoders run alternately (target, reference, target…) as the audit does,
 * with ORT's intra-op spinning on (ORT default) or off (sslmem's setting), and 1 vs 2 threads.
 * Each configuration runs in its own process so idle pools of other configurations cannot interfere.
 *
 *   npm run bench:spinning -- [seconds-per-run=3] [rounds=3]
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { createSession } from "../src/engine/session.ts";
import { convNet, randomViews } from "../test/helpers/tiny-encoders.ts";

const BATCH = 32;
const SIZE = 64;

async function child(spin: boolean, threads: number, mode: "pair" | "single", seconds: number) {
  const opts = { providers: ["cpu" as const], intraOpThreads: threads, allowSpinning: spin };
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
  // views per second through BOTH encoders (one audit view = one target run + one reference run)
  console.log(JSON.stringify({ viewsPerSecond: (iterations * BATCH) / elapsed }));
}

const args = process.argv.slice(2);
if (args[0] === "--child") {
  await child(args[1] === "1", Number(args[2]), args[3] as "pair" | "single", Number(args[4]));
} else {
  const seconds = Number(args[0] ?? 3);
  const rounds = Number(args[1] ?? 3);
  const configs = [
    { spin: true, threads: 1, mode: "pair" },
    { spin: false, threads: 1, mode: "pair" },
    { spin: true, threads: 2, mode: "pair" },
    { spin: false, threads: 2, mode: "pair" },
    { spin: true, threads: 2, mode: "single" },
    { spin: false, threads: 2, mode: "single" },
  ] as const;
  const results = new Map<string, number[]>();
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      const out = spawnSync(process.execPath, ["--import", "tsx", self, "--child", c.spin ? "1" : "0", String(c.threads), c.mode, String(seconds)], { encoding: "utf8" });
      const line = out.stdout.trim().split("\n").at(-1) ?? "";
      const key = `${c.mode === "pair" ? "target+reference alternating" : "one session (run twice)"}, threads=${c.threads}, allow_spinning=${c.spin ? 1 : 0}`;
      results.set(key, [...(results.get(key) ?? []), JSON.parse(line).viewsPerSecond]);
    }
  }
  console.log(`cores=${availableParallelism()} batch=${BATCH} input=${SIZE}x${SIZE} convNet 3 stages [32,64,128] → 128; ${seconds}s × ${rounds} rounds`);
  for (const [key, v] of results) {
    const sorted = [...v].sort((a, b) => a - b);
    console.log(`${key.padEnd(62)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(0).padStart(6)} views/s  (runs: ${v.map((x) => x.toFixed(0)).join(", ")})`);
  }
}
