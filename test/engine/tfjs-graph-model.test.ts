/**
 * TF.js GraphModels (model.json with a GraphDef topology): a tiny conv encoder written as a
 * GraphModel from known weights (test/helpers/tiny-graph-model.ts; no python converter here) embeds
 * like a plain TypeScript forward pass of the same network and like the same network as a
 * LayersModel, and audits to the LayersModel's scores. Hostile GraphModels are refused: unknown
 * ops, control flow, dangling inputs, absurd shapes, weights outside the model.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { loadTfjs } from "../../src/engine/tfjs/backend.ts";
import { runMixedAudit } from "../../src/engine/tfjs/mixed-audit.ts";
import { TfjsEncoder } from "../../src/engine/tfjs/tfjs-encoder.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { tinyConvGraphModel, tinyConvLayersModel, tinyConvWeights, type TinyConvWeights } from "../helpers/tiny-graph-model.ts";

const work = tempDir();
const fixtures = new URL("../../fixtures/", import.meta.url).pathname;

function writeModel(name: string, modelJson: string, shard: string, weights: Uint8Array): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "model.json"), modelJson);
  writeFileSync(join(dir, shard), weights);
  return dir;
}

async function models(seed: number): Promise<{ graph: string; layers: string; weights: TinyConvWeights }> {
  const weights = tinyConvWeights(seed);
  const g = tinyConvGraphModel(weights);
  const l = await tinyConvLayersModel((await loadTfjs()).tf, weights);
  return { graph: writeModel(`graph-${seed}`, JSON.stringify(g.modelJson), "group1-shard1of1.bin", g.weights), layers: writeModel(`layers-${seed}`, l.modelJson, "weights.bin", l.weights), weights };
}

/** The network in plain TypeScript: conv3x3 SAME (zero padding) + bias, ReLU, mean over H, W, dense. */
function forward(w: TinyConvWeights, view: Float32Array): Float64Array {
  const n = w.size;
  const pooled = new Float64Array(w.channels);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++)
      for (let o = 0; o < w.channels; o++) {
        let acc = w.bias[o];
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const sy = y + ky - 1;
            const sx = x + kx - 1;
            if (sy < 0 || sx < 0 || sy >= n || sx >= n) continue;
            for (let c = 0; c < 3; c++) acc += view[(sy * n + sx) * 3 + c] * w.kernel[((ky * 3 + kx) * 3 + c) * w.channels + o];
          }
        pooled[o] += Math.max(0, acc) / (n * n);
      }
  return Float64Array.from({ length: w.dim }, (_, d) => pooled.reduce((s, p, o) => s + p * w.dense[o * w.dim + d], 0));
}

test("a GraphModel encoder embeds like the TypeScript forward pass and like the same LayersModel", async () => {
  const { graph, layers, weights } = await models(7);
  const g = await TfjsEncoder.fromPath(graph);
  const l = await TfjsEncoder.fromPath(layers);
  try {
    assert.equal(g.format, "graph-model");
    assert.equal(l.format, "layers-model");
    assert.deepEqual(g.viewShape, [12, 12, 3]);
    const n = 3;
    const views = Float32Array.from({ length: n * 12 * 12 * 3 }, (_, i) => Math.sin(i * 0.37) * 0.8);
    const eg = await g.embed(views, n);
    const el = await l.embed(views, n);
    assert.equal(eg.dim, 5);
    let worstRef = 0;
    let worstLayers = 0;
    for (let v = 0; v < n; v++) {
      const ref = forward(weights, views.subarray(v * 432, (v + 1) * 432));
      ref.forEach((r, d) => {
        worstRef = Math.max(worstRef, Math.abs(eg.data[v * 5 + d] - r));
        worstLayers = Math.max(worstLayers, Math.abs(eg.data[v * 5 + d] - el.data[v * 5 + d]));
      });
    }
    assert.ok(worstRef <= 1e-5, `GraphModel vs TypeScript forward pass: ${worstRef}`);
    assert.ok(worstLayers <= 1e-5, `GraphModel vs LayersModel: ${worstLayers}`);
    assert.ok(Math.max(...eg.data.map(Math.abs)) > 1e-2, "the embeddings are not trivially zero");
  } finally {
    g.release();
    l.release();
  }
});

test("a GraphModel pair audits to the same scores as the LayersModel pair", async () => {
  const target = await models(11);
  const reference = await models(12);
  const candidates = join(work, "candidates");
  mkdirSync(candidates);
  for (const name of readdirSync(join(fixtures, "data/candidates/member")).sort().slice(0, 6)) copyFileSync(join(fixtures, "data/candidates/member", name), join(candidates, name));
  const configOf = (preprocessing: object) => AuditConfigSchema.parse({ views: 4, seed: 9, batchSize: 4, flag: "robust", preprocessing });
  const audit = async (t: string, r: string, config = configOf({ normalize: "unit" })) => {
    const set = await openPointSet(candidates);
    try {
      return await runMixedAudit({ target: { format: "tfjs", path: t }, reference: { format: "tfjs", path: r } }, { candidates: set }, config, { providers: ["cpu"] }, { id: "graph", created: new Date(0) });
    } finally {
      await set.close();
    }
  };
  const graph = await audit(target.graph, reference.graph);
  const layers = await audit(target.layers, reference.layers);
  // TF.js models declare no normalization: it is never guessed, and a preset means its values.
  await assert.rejects(audit(target.graph, reference.graph, configOf({})), (e: unknown) => isSslmemError(e) && e.code === "preprocessing_required");
  const preset = await audit(target.graph, reference.graph, configOf({ normalize: "half" }));
  const explicit = await audit(target.graph, reference.graph, configOf({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
  assert.deepEqual(preset.points.map((p) => p.score), explicit.points.map((p) => p.score), "normalize: half = mean/std 0.5");
  assert.notDeepEqual(preset.points.map((p) => p.score), graph.points.map((p) => p.score), "the preset is applied (unit differs)");
  assert.equal(graph.audit.engine.name, "tfjs");
  assert.equal(graph.points.length, 6);
  const worst = Math.max(...graph.points.map((p, i) => Math.abs(p.score - layers.points[i].score)));
  assert.ok(worst <= 1e-5, `largest score difference ${worst}`);
  assert.ok(graph.points.some((p) => Math.abs(p.score) > 1e-4), "the scores are not trivially zero");
});

test("hostile GraphModels are refused with clear errors", async () => {
  const weights = tinyConvWeights(3);
  const refuse = async (name: string, mutate: (m: Record<string, any>) => void, code: string, pattern: RegExp) => {
    const g = tinyConvGraphModel(weights);
    mutate(g.modelJson);
    const dir = writeModel(`hostile-${name}`, JSON.stringify(g.modelJson), "group1-shard1of1.bin", g.weights);
    await assert.rejects(TfjsEncoder.fromPath(dir), (e: unknown) => isSslmemError(e) && e.code === code && pattern.test(e.message), name);
  };
  const node = (m: Record<string, any>, name: string) => m.modelTopology.node.find((n: { name: string }) => n.name === name);
  await refuse("unknown-op", (m) => (node(m, "conv/Relu").op = "MyCustomOp"), "model_unsupported", /unknown or unsupported op "MyCustomOp"/);
  await refuse("control-flow", (m) => (node(m, "conv/Relu").op = "Switch"), "model_unsupported", /"Switch"/);
  await refuse("functions", (m) => (m.modelTopology.library = { function: [{ signature: { name: "f" } }] }), "model_unsupported", /control flow/);
  await refuse("dangling", (m) => (node(m, "conv/Relu").input = ["nowhere:0"]), "model_invalid", /reads "nowhere:0", which is no node/);
  await refuse("no-nodes", (m) => (m.modelTopology.node = []), "model_invalid", /no node list/);
  await refuse("absurd-weight", (m) => (m.weightsManifest[0].weights[0].shape = [65536, 65536, 64]), "model_invalid", /absurd shape/);
  await refuse("absurd-input", (m) => (node(m, "images").attr.shape.shape.dim = [-1, 100000, 100000, 3].map((d) => ({ size: String(d) }))), "model_unsupported", /100000×100000 pixels/);
  await refuse("dynamic-input", (m) => (node(m, "images").attr.shape.shape.dim = [-1, -1, -1, 3].map((d) => ({ size: String(d) }))), "model_unsupported", /static H and W/);
  await refuse("outside", (m) => (m.weightsManifest[0].paths = ["../graph-7/group1-shard1of1.bin"]), "model_invalid", /points outside the model/);
});
