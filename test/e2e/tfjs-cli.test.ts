/**
 * `sslmem audit` with TF.js encoders (directories holding model.json + weights.bin, or a .zip), from the CLI
 * (compiled build, child process): the fixture encoders converted to TF.js LayersModels from the
 * same weights give the ONNX audit's scores within 1e-4 and the same flags; the report names the
 * TF.js backend and what made each side's views (tf ops for a TF.js encoder). A model.json naming a shard outside its directory is refused with exit 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ReportV1Schema, type ReportV1 } from "../../src/core/report.ts";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeZip } from "../helpers/data-zip.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");

function audit(target: string, reference: string, candidates: string, out: string): { status: number | null; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [join(root, "bin/sslmem.js"), "audit", "--target", target, "--reference", reference, "--candidates", candidates, "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--views", "4", "--seed", "5", "--flag", "threshold", "--threshold", "0.25", "-o", `json=${out}`, "--quiet"],
    { encoding: "utf8", timeout: 300_000 },
  );
  return { status: r.status, stderr: r.stderr };
}

test("sslmem audit with TF.js fixture encoders gives the ONNX scores and flags", async () => {
  const dir = tempDir();
  const candidates = join(dir, "candidates");
  for (const group of ["member", "nonmember"]) {
    mkdirSync(join(candidates, group), { recursive: true });
    for (const n of readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, 8)) copyFileSync(join(fixtures, "data/candidates", group, n), join(candidates, group, n));
  }
  await writeLayersModel(join(fixtures, "encoders/target.onnx"), join(dir, "target"));
  await writeLayersModel(join(fixtures, "encoders/reference.onnx"), join(dir, "reference"));
  // The target as a zip (model.json and weights.bin in one top folder), as a user would upload it.
  const zip = join(dir, "target.zip");
  writeFileSync(zip, writeZip(["model.json", "weights.bin"].map((f) => ({ name: `target/${f}`, data: readFileSync(join(dir, "target", f)) }))));
  const runs: Record<string, ReportV1> = {};
  for (const [name, t, r] of [
    ["onnx", join(fixtures, "encoders/target.onnx"), join(fixtures, "encoders/reference.onnx")],
    ["tfjs", join(dir, "target"), join(dir, "reference/model.json")],
    ["mixed", join(fixtures, "encoders/target.onnx"), join(dir, "reference")],
    ["zip", zip, join(dir, "reference")],
  ] as const) {
    const out = join(dir, `${name}.json`);
    const { status, stderr } = audit(t, r, candidates, out);
    assert.equal(status, 0, `${name}: ${stderr}`);
    runs[name] = ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8")));
  }
  assert.equal(runs.tfjs.audit.engine.name, "tfjs");
  assert.equal(runs.mixed.audit.engine.name, "onnxruntime+tfjs");
  assert.match(runs.tfjs.audit.engine.tfjsBackend ?? "", /^tfjs(-node(-gpu)?)?\//);
  // All-TF.js: both sides' views made with tf ops; mixed: each side's on its own runtime.
  assert.deepEqual(runs.tfjs.audit.engine.views, { target: "tfjs", reference: "tfjs" });
  assert.deepEqual(runs.mixed.audit.engine.views, { target: "onnxruntime", reference: "tfjs" });
  assert.equal(runs.onnx.audit.engine.views, undefined);
  assert.deepEqual(runs.zip.audit.engine.views, { target: "tfjs", reference: "tfjs" });
  assert.equal(runs.zip.audit.target.digest, runs.tfjs.audit.target.digest, "the zip holds the same model as the directory");
  for (const name of ["tfjs", "mixed", "zip"]) {
    let worst = 0;
    runs[name].points.forEach((p, i) => {
      assert.equal(p.id, runs.onnx.points[i].id);
      worst = Math.max(worst, Math.abs(p.score - runs.onnx.points[i].score));
    });
    assert.ok(worst <= 1e-4, `${name}: largest score difference ${worst}`);
    assert.deepEqual(runs[name].points.map((p) => p.flagged), runs.onnx.points.map((p) => p.flagged), `${name}: same flags`);
  }
  assert.ok(runs.onnx.points.some((p) => p.flagged), "the flag comparison is not vacuous");

  const hostile = join(dir, "hostile");
  mkdirSync(hostile);
  const json = JSON.parse(readFileSync(join(dir, "target/model.json"), "utf8"));
  json.weightsManifest[0].paths = ["../target/weights.bin"];
  writeFileSync(join(hostile, "model.json"), JSON.stringify(json));
  const refused = audit(hostile, join(dir, "reference"), candidates, join(dir, "x.json"));
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /model_invalid\]: model\.json: weight path "\.\.\/target\/weights\.bin" points outside the model/);
});
