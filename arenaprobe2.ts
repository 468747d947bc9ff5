import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
const bytes = readFileSync("fixtures/encoders/target.onnx");
const mk = (arena: boolean, pattern: boolean) => ort.InferenceSession.create(bytes, { executionProviders: ["cpu"], intraOpNumThreads: 2, graphOptimizationLevel: "all", executionMode: "sequential", enableCpuMemArena: arena, enableMemPattern: pattern, extra: { session: { intra_op: { allow_spinning: "0" } } } });
const sessions = { on: await mk(true, true), off: await mk(false, false), arenaOnly: await mk(true, false) };
const n = 1024; const hw = 32;
const x = new ort.Tensor("float32", new Float32Array(n * 3 * hw * hw).fill(0.1), [n, 3, hw, hw]);
const best: Record<string, number> = {};
for (let r = 0; r < 6; r++) for (const [k, s] of Object.entries(sessions)) { const t = performance.now(); await s.run({ [s.inputNames[0]]: x }); best[k] = Math.min(best[k] ?? Infinity, performance.now() - t); }
console.log(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, (n / v * 1000).toFixed(0) + " views/s"])));
