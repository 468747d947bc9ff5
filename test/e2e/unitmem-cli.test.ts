/**
 * `sslmem units` from the CLI (compiled build, child process) on the fixture target encoder: a
 * valid UnitMem report (JSON), and the HTML page with the top units' thumbnails and the per-layer
 * distributions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UnitMemReportSchema } from "../../src/core/unitmem-report.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");

test("sslmem units on the fixture encoder writes the UnitMem JSON and HTML reports", () => {
  const dir = tempDir();
  const candidates = join(dir, "candidates");
  mkdirSync(candidates);
  for (const n of readdirSync(join(fixtures, "data/candidates/member")).sort().slice(0, 24)) copyFileSync(join(fixtures, "data/candidates/member", n), join(candidates, n));
  const json = join(dir, "units.json");
  const html = join(dir, "units.html");
  const r = spawnSync(
    process.execPath,
    [join(root, "bin/sslmem.js"), "units", "--encoder", join(fixtures, "encoders/target.onnx"), "--candidates", candidates, "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--views", "4", "--top", "5", "-o", `json=${json}`, "-o", `html=${html}`, "-o", "table", "--quiet"],
    { encoding: "utf8", timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const report = UnitMemReportSchema.parse(JSON.parse(readFileSync(json, "utf8")));
  assert.equal(report.run.points, 24);
  assert.equal(report.run.config.baseline, "median");
  assert.equal(report.layers.length, 6);
  assert.deepEqual(report.layers.map((l) => l.units), report.layers.map((l) => l.shape[0]), "a unit per channel or feature");
  assert.equal(report.layers.at(-1)!.name, "embedding");
  assert.equal(report.topUnits.length, 5);
  for (const l of report.layers) assert.equal(l.histogram.reduce((n, b) => n + b.count, 0), l.units);
  const sorted = report.topUnits.map((u) => u.unitMem);
  assert.deepEqual(sorted, [...sorted].sort((a, b) => b - a));
  const page = readFileSync(html, "utf8");
  assert.match(page, /UnitMem: which units single out one image/);
  assert.ok((page.match(/<img src="data:image\/(png|jpeg);base64,/g) ?? []).length >= 5, "thumbnails of the top units' points");
  assert.match(page, /aria-label="UnitMem distribution per layer"/);
  assert.match(r.stdout, /top units: layer \/ unit → point/);
});
