/**
 * Where an audit batch's time goes beyond the encoders (issue 9): for one benchmark encoder at the
 * audit's batch size, times in one process, interleaved, with the audit's session settings:
 *
 *   host     decode (sharp), view sampling, input packing of one batch;
 *   augment  the augmentation graph alone (its own session);
 *   encoders target then reference alone on the views the augmentation made;
 *   fused    the composed graph (augmentation + both encoders + distances), one run;
 *   hostViews, fusedOnHostViews   the views made on the host (host-augment.ts, as the CPU
 *            provider's audit makes them) and the composed graph that takes them (encoders +
 *            distances), one run;
 * and ONNX Runtime's profile of the composed graph, summed per op type, split into the encoders'
 * nodes (prefixed target::/reference::) and the rest (augmentation, pooling, distances).
 *
 *   node --import tsx bench/pipeline-profile.bench.ts [fixture|conv64|resnet18] [batch points] [runs]
 *
 * Environment: RUNS (the composed graph's runs of views, default the pipeline's: augmentRunCount), THREADS (ORT intra-op threads, default 2), ARENA=1 (ORT's CPU arena on in every
 * session), WAIT=brief-spin|sleep|spin (how idle pool threads wait, providers.ts; default brief-spin,
 * as the audit's composed session — every session here waits alike), PROFILE_NODES=1 (the 25 slowest non-encoder nodes, with their µs a run; PROFILE_NODES=N: the N slowest),
 * STAGES=1 (the composed graph's time beyond the encoders' own sessions with the augmentation's
 * stages removed from the policy a group at a time: where the augmentation's time goes inside the
 * composed run, in interleaved rounds), PROVIDER=webgpu|cuda (every session on that execution
 * provider, with cpu for the ops it lacks, as the audit's; default cpu: on a GPU host, see
 * scripts/gpu-proof.sh — the profile then also says which of the non-encoder nodes ORT placed on
 * the cpu, each a round trip of its tensors between device and host), AUDIT=N (the audit's own
 * loop — measurePoints over N batches of PNG files, staged as the audit stages them, on the
 * provider's default: a thread on GPU providers — a batch's time against the composed graph's bare
 * run and the encoders' own sessions, in interleaved rounds: what the loop adds to the run;
 * STAGING=inline|thread overrides where it stages, AUGMENTATION=graph|host where it makes the views:
 * by default the engine's (batch-pipeline.ts, defaultAugmentSite); "the composed graph's
 * bare run" is the graph's own augmentation's).
 * Figures are wall-clock: on a shared machine compare them within one run.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import * as ort from "onnxruntime-node";
import { ModelProtoSchema } from "onnx-buf";
import { AuditConfigSchema } from "../src/core/audit-config.ts";
import type { AugmentationOp, AugmentationPolicy } from "../src/core/policy.ts";
import { sampleViewsForPoint } from "../src/core/view-params.ts";
import { openPointSet } from "../src/data/sources.ts";
import { prepareAudit } from "../src/engine/audit.ts";
import { measurePoints } from "../src/engine/measure.ts";
import { augmentGraphOptions } from "../src/engine/augmenter.ts";
import { augmentRunCount, buildAugmentGraph, packAugmentInputs } from "../src/engine/augment-graph.ts";
import { buildFusedGraph, FUSED_OUTPUTS } from "../src/engine/fused-graph.ts";
import { toFeeds } from "../src/engine/augmenter.ts";
import { ArrayPool } from "../src/engine/array-pool.ts";
import { packHostViews } from "../src/engine/host-augment.ts";
import { intraOpWait } from "../src/engine/providers.ts";
import { CASES, writeImages } from "./cases.ts";

const name = process.argv[2] ?? "fixture";
const c = CASES.find((x) => x.name === name);
if (!c) throw new Error(`unknown case ${name}`);
const source = c.source;
const B = Number(process.argv[3] ?? (name === "resnet18" ? 2 : 8));
const runs = Number(process.argv[4] ?? (name === "resnet18" ? 4 : 12));
const threads = Number(process.env.THREADS ?? 2);
const wait = process.env.WAIT ?? "brief-spin";
if (wait !== "brief-spin" && wait !== "sleep" && wait !== "spin") throw new Error(`WAIT must be brief-spin, sleep or spin, not ${wait}`);
const K = 16;
const provider = ((p: string) => {
  if (p !== "cpu" && p !== "webgpu" && p !== "cuda") throw new Error(`PROVIDER must be cpu, webgpu or cuda, not ${p}`);
  return p;
})(process.env.PROVIDER ?? "cpu");
const executionProviders = provider === "cpu" ? ["cpu"] : [provider, "cpu"];

const dir = mkdtempSync(join(tmpdir(), "sslmem-profile-"));
try {
  const { target, reference } = c.models();
  await writeImages(join(dir, "images"), B, c.source);
  const candidates = await openPointSet(join(dir, "images"));
  const config = AuditConfigSchema.parse({ views: K, seed: 0, preprocessing: c.preprocessing ?? {}, batchSize: B });
  const prepared = await prepareAudit({ target, reference, candidates }, config, { providers: [provider], threads, memoryBudget: null });
  const enc = prepared.encoders;
  const prep = enc.preprocessing;
  const augment = augmentGraphOptions({ policy: prepared.policy, out: { height: prep.height, width: prep.width }, layout: prep.layout, mean: prep.mean, std: prep.std, range: prep.range });
  // The composed graph's runs of views as the audit's pipeline chooses them (batch-pipeline.ts), or RUNS.
  const augmentRuns = Number(process.env.RUNS ?? augmentRunCount(augment.out, B * 2 * K, 2 * K));
  const fused = buildFusedGraph({ augment: { ...augment, runs: augmentRuns }, target: { bytes: target, encoder: enc.target }, reference: { bytes: reference, encoder: enc.reference }, pairs: K, pairing: config.pairing, distance: config.distance });
  if (!fused.ok) throw new Error(fused.reason);
  const opts = (profile = false): ort.InferenceSession.SessionOptions => ({
    executionProviders,
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    executionMode: "sequential",
    enableCpuMemArena: process.env.ARENA === "1",
    enableMemPattern: false, // as the audit's composed session (batch-pipeline.ts)
    enableProfiling: profile,
    profileFilePrefix: join(dir, "ort-profile"),
    extra: { session: { intra_op: intraOpWait(wait) } },
  });
  const sFused = await ort.InferenceSession.create(fused.model, opts());
  // The composed graph on views made on the host (host-augment.ts), as the CPU provider's audit runs.
  const fusedHost = buildFusedGraph({ augment, hostViews: true, target: { bytes: target, encoder: enc.target }, reference: { bytes: reference, encoder: enc.reference }, pairs: K, pairing: config.pairing, distance: config.distance });
  if (!fusedHost.ok) throw new Error(fusedHost.reason);
  const sFusedHost = await ort.InferenceSession.create(fusedHost.model, opts());
  const sAug = await ort.InferenceSession.create(buildAugmentGraph(augment, fused.opset), opts());
  const sT = await ort.InferenceSession.create(target, opts());
  const sR = await ort.InferenceSession.create(reference, opts());

  const time = async <T>(f: () => Promise<T> | T): Promise<[number, T]> => {
    const t0 = performance.now();
    const v = await f();
    return [performance.now() - t0, v];
  };
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const T: Record<string, number[]> = { decode: [], sample: [], pack: [], augment: [], target: [], reference: [], fused: [], hostViews: [], fusedOnHostViews: [] };
  const out = { height: prep.height, width: prep.width };
  const pool = new ArrayPool();
  for (let r = 0; r < runs + 1; r++) {
    const [tDecode, images] = await time(() => Promise.all(Array.from({ length: B }, (_, i) => candidates.load(i))));
    const [tSample, batch] = await time(() =>
      images.map((image, i) => ({ image, views: sampleViewsForPoint(prepared.policy, config.pairing, config.seed, `${r}-${i}`, K, { height: image.height, width: image.width }, out) })),
    );
    // Packed into pooled arrays, as the audit's pipeline packs (a fresh array's page faults would count).
    const [tPack, packed] = await time(() => packAugmentInputs(augment, batch, pool));
    const feeds = toFeeds(packed);
    const [tAug, views] = await time(() => sAug.run(feeds));
    const v = views.views;
    const [tT] = await time(() => sT.run({ [sT.inputNames[0]]: v }));
    const [tR] = await time(() => sR.run({ [sR.inputNames[0]]: v }));
    const [tF] = await time(() => sFused.run(feeds, [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference]));
    pool.give(Object.values(packed).map((input) => input.data));
    const [tHost, hostViews] = await time(() => packHostViews(augment, batch, pool));
    const [tFH] = await time(() => sFusedHost.run(toFeeds(hostViews), [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference]));
    pool.give(Object.values(hostViews).map((input) => input.data));
    if (r === 0) continue; // warm-up
    for (const [k, t] of Object.entries({ decode: tDecode, sample: tSample, pack: tPack, augment: tAug, target: tT, reference: tR, fused: tF, hostViews: tHost, fusedOnHostViews: tFH })) T[k].push(t);
  }
  const V = B * 2 * K;
  const m = Object.fromEntries(Object.entries(T).map(([k, xs]) => [k, med(xs)]));
  const encoders = m.target + m.reference;
  const augmentNodes = fromBinary(ModelProtoSchema, buildAugmentGraph(augment, fused.opset)).graph?.node.length ?? 0;
  console.log(`${name} ${out.height}×${out.width}, batch ${B} points = ${V} views, composed augmentation in ${augmentRuns} run(s), ${threads} threads, idle threads ${wait}, augmentation graph ${augmentNodes} nodes, provider ${provider}, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`  ms/batch (median of ${runs}): ${Object.entries(m).map(([k, t]) => `${k} ${t.toFixed(1)}`).join(", ")}`);
  console.log(`  encoders alone ${encoders.toFixed(1)} ms (${((V / encoders) * 1000).toFixed(0)} views/s); fused ${m.fused.toFixed(1)} ms (${((V / m.fused) * 1000).toFixed(0)} views/s); fused / encoders = ${(encoders / m.fused).toFixed(2)}; augment alone / encoders = ${(m.augment / encoders).toFixed(2)}; host (sample+pack) / encoders = ${((m.sample + m.pack) / encoders).toFixed(2)}`);
  console.log(`  views made on the host ${m.hostViews.toFixed(1)} ms + the composed graph on them ${m.fusedOnHostViews.toFixed(1)} ms: encoders / (both) = ${(encoders / (m.hostViews + m.fusedOnHostViews)).toFixed(2)}`);

  // ORT profile of the composed graph: kernel time per op type, encoders vs the rest.
  const sProf = await ort.InferenceSession.create(fused.model, opts(true));
  const images = await Promise.all(Array.from({ length: B }, (_, i) => candidates.load(i)));
  const feeds = toFeeds(packAugmentInputs(augment, images.map((image, i) => ({ image, views: sampleViewsForPoint(prepared.policy, config.pairing, config.seed, `p-${i}`, K, { height: image.height, width: image.width }, out) }))));
  for (let r = 0; r < Math.max(3, Math.round(runs / 2)); r++) await sProf.run(feeds, [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference]);
  sProf.endProfiling();
  const file = readdirProfile(dir);
  const all = JSON.parse(readFileSync(file, "utf8")) as { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string; provider?: string } }[];
  // The first run allocates (the arena's regions, page faults): its events are left out.
  const firstRun = all.filter((e) => e.cat === "Session" && e.name === "model_run").sort((a, b) => a.ts - b.ts)[0];
  const events = firstRun ? all.filter((e) => e.ts >= firstRun.ts + firstRun.dur) : all;
  const byOp = new Map<string, number>();
  let encTime = 0;
  let rest = 0;
  let runTotal = 0;
  for (const e of events) {
    if (e.cat === "Session" && e.name === "model_run") runTotal += e.dur;
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const isEncoder = e.name.startsWith("target::") || e.name.startsWith("reference::");
    if (isEncoder) encTime += e.dur;
    else {
      rest += e.dur;
      const op = e.args?.op_name ?? "?";
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    }
  }
  const total = encTime + rest;
  console.log(`  ORT profile: model_run ${(runTotal / 1000).toFixed(0)} ms, kernels ${(total / 1000).toFixed(0)} ms: encoders ${((100 * encTime) / total).toFixed(1)} %, rest ${((100 * rest) / total).toFixed(1)} %`);
  const top = [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14);
  if (provider !== "cpu") {
    // Where ORT placed each node (one profiled run's events): a non-encoder node on the cpu moves
    // its tensors between device and host.
    const placed = new Map<string, { provider: string; op: string }>();
    for (const e of events) if (e.cat === "Node" && e.name.endsWith("_kernel_time")) placed.set(e.name.slice(0, -"_kernel_time".length), { provider: e.args?.provider ?? "?", op: e.args?.op_name ?? "?" });
    const count = (enc: boolean) => {
      const m = new Map<string, number>();
      for (const [n, x] of placed) if (n.includes("::") === enc) m.set(x.provider, (m.get(x.provider) ?? 0) + 1);
      return [...m.entries()].map(([p, k]) => `${p} ${k}`).join(", ");
    };
    console.log(`  placement: encoders' nodes ${count(true)}; the rest ${count(false)}`);
    const onCpu = [...placed.entries()].filter(([n, x]) => !n.includes("::") && x.provider.startsWith("CPU"));
    const ops = onCpu.reduce((m, [, x]) => m.set(x.op, (m.get(x.op) ?? 0) + 1), new Map<string, number>());
    if (onCpu.length > 0) console.log(`  non-encoder nodes on the cpu by op type: ${[...ops.entries()].map(([op, k]) => `${op} ${k}`).join(", ")}`);
  }
  console.log(`  rest by op type (% of kernel time): ${top.map(([op, d]) => `${op} ${((100 * d) / total).toFixed(1)}`).join(", ")}`);
  if (process.env.PROFILE_NODES) {
    const byNode = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && !e.name.includes("::")).reduce((mm, e) => mm.set(e.name, (mm.get(e.name) ?? 0) + e.dur), new Map<string, number>());
    const profiledRuns = events.filter((e) => e.cat === "Session" && e.name === "model_run").length;
    for (const [n, d] of [...byNode.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_NODES) > 1 ? Number(process.env.PROFILE_NODES) : 25)) {
      console.log(`    ${n} ${((100 * d) / total).toFixed(2)} % (${(d / profiledRuns).toFixed(0)} µs a run)`);
    }
  }
  /**
   * The composed graph of the policy with stages removed (each with views sampled from its own
   * policy), against the two encoders' own sessions on views in memory: per round, each variant's
   * median batch time minus the encoders'; the median of the rounds is printed.
   */
  async function stageCosts(): Promise<void> {
    const policy = prepared.policy;
    const without = (ops: AugmentationOp[] | undefined, drop: readonly AugmentationOp["op"][], noHue: boolean) =>
      ops?.filter((o) => !drop.includes(o.op)).map((o) => (noHue && o.op === "colorJitter" ? { ...o, hue: 0 } : o));
    const variant = (drop: readonly AugmentationOp["op"][], noHue = false): AugmentationPolicy => {
      const second = without(policy.secondViewOps, drop, noHue);
      return { ops: without(policy.ops, drop, noHue) ?? [], ...(second ? { secondViewOps: second } : {}) };
    };
    const variants: [string, AugmentationPolicy][] = [
      ["all stages", policy],
      ["without blur", variant(["gaussianBlur"])],
      ["without hue (half the blend stages)", variant([], true)],
      ["without colour jitter", variant(["colorJitter"])],
      ["crop, flip, grayscale, solarize", variant(["colorJitter", "gaussianBlur"])],
      ["crop and flip", variant(["colorJitter", "gaussianBlur", "grayscale", "solarize"])],
    ];
    const views = (await sAug.run(feeds)).views;
    const encoderFeeds = [{ [sT.inputNames[0]]: views }, { [sR.inputNames[0]]: views }];
    const composed = [];
    for (const [label, p] of variants) {
      const options = { ...augmentGraphOptions({ policy: p, out, layout: prep.layout, mean: prep.mean, std: prep.std, range: prep.range }), runs: augmentRuns };
      const graph = buildFusedGraph({ augment: options, target: { bytes: target, encoder: enc.target }, reference: { bytes: reference, encoder: enc.reference }, pairs: K, pairing: config.pairing, distance: config.distance });
      if (!graph.ok) throw new Error(graph.reason);
      const batch = images.map((image, i) => ({ image, views: sampleViewsForPoint(p, config.pairing, config.seed, `s-${i}`, K, { height: image.height, width: image.width }, out) }));
      composed.push({ label, session: await ort.InferenceSession.create(graph.model, opts()), feeds: toFeeds(packAugmentInputs(options, batch)) });
    }
    const batchTime = async (run: () => Promise<unknown>) => {
      await run();
      const ts: number[] = [];
      for (let i = 0; i < runs; i++) ts.push((await time(run))[0]);
      return med(ts);
    };
    const beyond: number[][] = composed.map(() => []);
    let encodersTime = 0;
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      const encoders = await batchTime(async () => {
        await sT.run(encoderFeeds[0]);
        await sR.run(encoderFeeds[1]);
      });
      encodersTime += encoders / rounds;
      for (const [i, c] of composed.entries()) beyond[i].push((await batchTime(() => c.session.run(c.feeds, [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference]))) - encoders);
    }
    console.log(`  stages (composed graph beyond the encoders' own sessions, ${encodersTime.toFixed(1)} ms a batch; median of ${rounds} rounds of ${runs} batches):`);
    for (const [i, c] of composed.entries()) {
      const ms = med(beyond[i]);
      console.log(`    ${c.label.padEnd(36)} ${ms < 0 ? "−" : "+"}${Math.abs(ms).toFixed(2)} ms`);
    }
    for (const c of composed) await c.session.release();
  }
  if (process.env.STAGES) await stageCosts();

  /** The audit's loop per batch against the bare composed run and the encoders alone (AUDIT=N). */
  async function auditPath(batches: number): Promise<void> {
    await writeImages(join(dir, "audit-images"), B * batches, source);
    const set = await openPointSet(join(dir, "audit-images"));
    const staging = process.env.STAGING;
    if (staging !== undefined && staging !== "inline" && staging !== "thread") throw new Error(`STAGING must be inline or thread, not ${staging}`);
    const augmentation = process.env.AUGMENTATION;
    if (augmentation !== undefined && augmentation !== "graph" && augmentation !== "host") throw new Error(`AUGMENTATION must be graph or host, not ${augmentation}`);
    const audit = await prepareAudit({ target, reference, candidates: set }, config, { providers: [provider], threads, memoryBudget: null, ...(staging ? { staging } : {}), ...(augmentation ? { augmentation } : {}) });
    try {
      await measurePoints(audit.context, { from: 0, to: B }); // warm-up: the arena session, the first run's kernels
      const views = (await sAug.run(feeds)).views;
      const encoderFeeds = [{ [sT.inputNames[0]]: views }, { [sR.inputNames[0]]: views }];
      const T2: Record<string, number[]> = { audit: [], composed: [], encoders: [] };
      for (let r = 0; r < 5; r++) {
        T2.audit.push((await time(() => measurePoints(audit.context, { from: 0, to: B * batches })))[0] / batches);
        const composed: number[] = [];
        const encoders: number[] = [];
        for (let i = 0; i < batches; i++) {
          composed.push((await time(() => sFused.run(feeds, [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference])))[0]);
          encoders.push((await time(async () => (await sT.run(encoderFeeds[0]), await sR.run(encoderFeeds[1]))))[0]);
        }
        T2.composed.push(med(composed));
        T2.encoders.push(med(encoders));
      }
      const m2 = Object.fromEntries(Object.entries(T2).map(([k, xs]) => [k, med(xs)]));
      console.log(`  audit loop (${batches} batches of ${B} points, views made in the ${audit.pipeline.augmentation}, staging ${audit.pipeline.staging}; medians of 5 rounds): ${m2.audit.toFixed(1)} ms a batch; the composed graph's bare run ${m2.composed.toFixed(1)} ms; the encoders alone ${m2.encoders.toFixed(1)} ms; audit / encoders ${(m2.encoders / m2.audit).toFixed(2)}, composed / encoders ${(m2.encoders / m2.composed).toFixed(2)}`);
    } finally {
      await audit.release();
      await set.close();
    }
  }
  if (process.env.AUDIT) await auditPath(Number(process.env.AUDIT));
  for (const s of [sFused, sFusedHost, sAug, sT, sR, sProf]) await s.release();
  await prepared.release();
  await candidates.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function readdirProfile(d: string): string {
  const f = readdirSync(d).find((x) => x.startsWith("ort-profile"));
  if (!f) throw new Error("no ORT profile written");
  return join(d, f);
}
