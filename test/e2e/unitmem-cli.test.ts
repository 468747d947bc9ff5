/**
 * `sslmem units` from the CLI (compiled build, child process) on the fixture target encoder: a
 * valid UnitMem report (JSON), and the HTML page with the top units' thumbnails and the per-layer
 * distributions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { startEngineServer } from "../helpers/engine-server.ts";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UnitMemReportSchema } from "../../src/core/unitmem-report.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");

const localJson = { path: "" };

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
  localJson.path = json;
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

test("sslmem units --server runs a kind=unitmem audit on the service: the same report as the local run", async () => {
  assert.ok(localJson.path, "the local run above wrote its report");
  const local = UnitMemReportSchema.parse(JSON.parse(readFileSync(localJson.path, "utf8")));
  const server = await startEngineServer({ engineThread: "worker" });
  try {
    const dir = tempDir();
    const candidates = join(dir, "candidates");
    mkdirSync(candidates);
    for (const n of readdirSync(join(fixtures, "data/candidates/member")).sort().slice(0, 24)) copyFileSync(join(fixtures, "data/candidates/member", n), join(candidates, n));
    const json = join(dir, "remote.json");
    const html = join(dir, "remote.html");
    const args = ["units", "--encoder", join(fixtures, "encoders/target.onnx"), "--candidates", candidates, "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--views", "4", "--top", "5"];
    await promisify(execFile)(process.execPath, [join(root, "bin/sslmem.js"), ...args, "--server", server.url, "--token", server.tokens.alice, "-o", `json=${json}`, "-o", `html=${html}`, "--quiet"], { timeout: 300_000 });
    const remote = UnitMemReportSchema.parse(JSON.parse(readFileSync(json, "utf8")));
    assert.match(remote.run.id, /^aud_/, "the run is the service's audit");
    // Everything but the run's identity (id, time) is the same as the local run's.
    const identityless = (r: typeof local) => ({ ...r, run: { ...r.run, id: "", created: "" } });
    assert.deepEqual(identityless(remote), identityless(local), "the same units, scores and points as the local run");
    assert.ok((readFileSync(html, "utf8").match(/<img src="data:image\/(png|jpeg);base64,/g) ?? []).length >= 5, "thumbnails from the local candidates");
    const wrongToken = await promisify(execFile)(process.execPath, [join(root, "bin/sslmem.js"), ...args, "--server", server.url, "--token", "sslm_nope", "--quiet"]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(wrongToken?.code, 1);
    assert.match(wrongToken?.stderr ?? "", /\[invalid_token\]/);
  } finally {
    await server.close();
  }
});
