/**
 * TF.js encoders: the fixture encoders converted to TF.js LayersModels from the same weights
 * (scripts/onnx-to-tfjs.ts, into a temporary directory) audit to the ONNX path's scores — TF.js
 * target and reference (views made with tf ops on the TF.js backend), and a mixed pair (ONNX
 * target on the ONNX augmentation graph, TF.js reference on tf ops) — within 1e-4, with the same
 * flags. Hostile model.json files are refused before TensorFlow.js loads anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import { flagPoints } from "../../src/core/flags.ts";
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { loadTfjs } from "../../src/engine/tfjs/backend.ts";
import { measureMixed, viewsMadeBy } from "../../src/engine/tfjs/mixed-measure.ts";
import { parseModelJson } from "../../src/engine/tfjs/model-json.ts";
import { TfjsEncoder } from "../../src/engine/tfjs/tfjs-encoder.ts";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const work = tempDir();
const candidates = join(work, "candidates");
for (const group of ["member", "nonmember"]) {
  mkdirSync(join(candidates, group), { recursive: true });
  for (const n of readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, 10)) copyFileSync(join(fixtures, "data/candidates", group, n), join(candidates, group, n));
}
const config = AuditConfigSchema.parse({ views: 4, seed: 3, batchSize: 5, flag: "robust", preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
const flags = (rows: readonly PointMeasurement[]) => flagPoints(rows, [], { method: "robust", robustZ: 1, fpr: 0.01, fdr: 0.05 }).results.map((r) => r.flagged);

test("the TF.js runtime is chosen once and named", async () => {
  const a = await loadTfjs();
  const b = await loadTfjs();
  assert.equal(a, b);
  assert.match(a.backend, /^tfjs(-node(-gpu)?)?\/(tensorflow|wasm|cpu)$/);
  if (a.backend.startsWith("tfjs/")) assert.ok(a.skipped.some((s) => s.candidate === "@tensorflow/tfjs-node-gpu"), "why the native backends were skipped is kept");
});

test("TF.js fixture encoders audit to the ONNX scores (≤ 1e-4, same flags); mixed formats too", async () => {
  await writeLayersModel(join(fixtures, "encoders/target.onnx"), join(work, "target-tfjs"));
  await writeLayersModel(join(fixtures, "encoders/reference.onnx"), join(work, "reference-tfjs"));
  const target = await TfjsEncoder.fromPath(join(work, "target-tfjs"));
  const reference = await TfjsEncoder.fromPath(join(work, "reference-tfjs"));
  assert.equal(target.format, "layers-model");
  assert.deepEqual(target.viewShape, [32, 32, 3]);

  const onnxT = new Uint8Array(readFileSync(join(fixtures, "encoders/target.onnx")));
  const onnxR = new Uint8Array(readFileSync(join(fixtures, "encoders/reference.onnx")));
  const set = await openPointSet(candidates);
  const prepared = await prepareAudit({ target: onnxT, reference: onnxR, candidates: set }, config, { providers: ["cpu"], threads: 2 });
  try {
    const onnx = await measurePoints(prepared.context);
    const common = {
      config,
      policy: prepared.policy,
      preprocessing: { ...prepared.encoders.preprocessing },
      executionProviders: ["cpu"],
    };
    assert.equal(viewsMadeBy(target), "tfjs", "a TF.js encoder's views are made with tf ops");
    assert.equal(viewsMadeBy({ layout: "NCHW", embed: async () => ({ data: new Float32Array(0), dim: 0 }) }), "onnxruntime");
    const tfjs = await measureMixed(set, { ...common, target, reference });
    const onnxEncoder = prepared.encoders.target;
    const mixed = await measureMixed(set, { ...common, target: { layout: onnxEncoder.preprocessing.layout, embed: (v, n) => onnxEncoder.embed(v, n) }, reference });
    for (const [name, rows] of [["tfjs", tfjs], ["mixed", mixed]] as const) {
      let worst = 0;
      rows.forEach((r, i) => {
        assert.equal(r.id, onnx[i].id);
        for (const key of ["score", "alignTarget", "alignReference", "stdErr"] as const) worst = Math.max(worst, Math.abs(r[key] - onnx[i][key]));
      });
      assert.ok(worst <= 1e-4, `${name}: largest difference from the ONNX path ${worst}`);
      assert.deepEqual(flags(rows), flags(onnx), `${name}: the same points are flagged`);
    }
    assert.ok(flags(onnx).some(Boolean), "the flag comparison is not vacuous");
  } finally {
    await prepared.release();
    await set.close();
    target.release();
    reference.release();
  }
});

const good = () => JSON.parse(readFileSync(join(work, "target-tfjs/model.json"), "utf8"));

test("hostile model.json files are refused with clear errors", async () => {
  const refuse = (mutate: (m: any) => void, code: string, pattern: RegExp) => {
    const m = good();
    mutate(m);
    assert.throws(() => parseModelJson(JSON.stringify(m)), (e: unknown) => isSslmemError(e) && e.code === code && pattern.test(e.message));
  };
  refuse((m) => (m.weightsManifest[0].paths = ["../../etc/passwd"]), "model_invalid", /outside the model/);
  refuse((m) => (m.weightsManifest[0].paths = ["/etc/passwd"]), "model_invalid", /outside the model/);
  refuse((m) => (m.weightsManifest[0].paths = ["https://example.com/w.bin"]), "model_invalid", /outside the model/);
  refuse((m) => (m.weightsManifest[0].paths = ["a\\..\\b.bin"]), "model_invalid", /outside the model/);
  refuse((m) => (m.weightsManifest[0].weights[0].shape = [65536, 65536, 64]), "model_invalid", /absurd shape/);
  refuse((m) => (m.weightsManifest[0].weights[0].shape = [-1, 3]), "model_invalid", /invalid dimension/);
  refuse((m) => (m.modelTopology.config.layers[1].class_name = "MyLambdaLayer"), "model_unsupported", /unknown layer class "MyLambdaLayer"/);
  refuse((m) => (m.weightsManifest[0].weights[0].quantization = { dtype: "uint8" }), "model_unsupported", /quantized/);
  refuse((m) => (m.format = "keras-pickle"), "model_invalid", /unknown format/);
  assert.throws(() => parseModelJson("{"), (e: unknown) => isSslmemError(e) && /not valid JSON/.test(e.message));

  // A shard that is a symlink out of the model directory, and shards shorter than declared.
  const dir = join(work, "escape");
  mkdirSync(dir);
  writeFileSync(join(dir, "model.json"), JSON.stringify(good()));
  symlinkSync(join(work, "target-tfjs/weights.bin"), join(dir, "weights.bin"));
  await assert.rejects(TfjsEncoder.fromPath(dir), (e: unknown) => isSslmemError(e) && /resolves outside the model directory/.test(e.message));
  const short = join(work, "short");
  mkdirSync(short);
  writeFileSync(join(short, "model.json"), JSON.stringify(good()));
  writeFileSync(join(short, "weights.bin"), new Uint8Array(100));
  await assert.rejects(TfjsEncoder.fromPath(short), (e: unknown) => isSslmemError(e) && /hold 100 bytes, but the manifest declares/.test(e.message));
});
