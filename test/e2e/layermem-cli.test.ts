/**
 * `sslmem audit --layers auto` from the CLI (compiled build, child process) on the fixture
 * encoders: the JSON report carries a valid `layers` section whose last layer's per-point LayerMem
 * is the audit score, and the HTML report draws the per-layer plot and table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ReportV1Schema } from "../../src/core/report.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");

test("sslmem audit --layers auto writes the LayerMem section, plot and table", () => {
  const dir = tempDir();
  const candidates = join(dir, "candidates");
  for (const group of ["member", "nonmember"]) {
    mkdirSync(join(candidates, group), { recursive: true });
    for (const n of readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, 12)) {
      copyFileSync(join(fixtures, "data/candidates", group, n), join(candidates, group, n));
    }
  }
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  const r = spawnSync(
    process.execPath,
    [
      join(root, "bin/sslmem.js"), "audit",
      "--target", join(fixtures, "encoders/target.onnx"),
      "--reference", join(fixtures, "encoders/reference.onnx"),
      "--candidates", candidates,
      "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
      "--views", "4", "--layers", "auto",
      "-o", `json=${json}`, "-o", `html=${html}`, "--quiet",
    ],
    { encoding: "utf8", timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const report = ReportV1Schema.parse(JSON.parse(readFileSync(json, "utf8")));
  const section = report.layers;
  assert.ok(section, "the report has a layers section");
  assert.equal(report.audit.config.layers, "auto");
  assert.equal(section.layers.length, 6);
  assert.equal(section.layers.at(-1)!.name, "embedding");
  assert.equal(section.layers.at(-1)!.final, true);
  assert.deepEqual(section.layers[0].shape, [32, 16, 16]); // the first conv has stride 2
  assert.equal(section.points.length, report.points.length);
  section.points.forEach((p, i) => {
    assert.equal(p.id, report.points[i].id);
    assert.equal(p.scores.length, 6);
    assert.ok(Math.abs(p.scores.at(-1)! - report.points[i].score) <= 1e-6);
  });
  const page = readFileSync(html, "utf8");
  assert.match(page, /Where memorization lives \(LayerMem\)/);
  assert.equal((page.match(/data-series="mean"/g) ?? []).length, 6, "one bar per layer");
  assert.match(page, /backbone\.16\/Relu_output_0/);
});

test("sslmem audit --layers with a name the encoders lack exits 1 with a clear message", () => {
  const r = spawnSync(
    process.execPath,
    [
      join(root, "bin/sslmem.js"), "audit",
      "--target", join(fixtures, "encoders/target.onnx"),
      "--reference", join(fixtures, "encoders/reference.onnx"),
      "--candidates", join(fixtures, "data/candidates/member"),
      "--layers", "/backbone/missing", "--quiet",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /invalid_config\]: layers: the target encoder has no value named/);
});
