/**
 * UnitMem audits through the HTTP API, end to end: real HTTP on 127.0.0.1, real SQLite, the real
 * engine in its child process running real ONNX models.
 *
 * - On the fixture target encoder, an API audit gives the per-unit results of `sslmem units`
 *   (the compiled CLI, same seed and config) exactly; its JSON report is the CLI's report but for
 *   the run's id and time; the HTML page carries thumbnails; the results page, sort and stream.
 * - The planted-unit model (test/helpers/planted-unit.ts), submitted as multipart, singles out
 *   its red image through the API too.
 * - Formats and query parameters that do not apply to UnitMem are problems with stable codes;
 *   DELETE purges the unit rows with the audit.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UnitMemReportSchema, type UnitMemReport } from "../../src/core/unitmem-report.ts";
import type { UnitResult } from "../../src/store/unit-result-types.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { RED, plantedCandidatesNpy, plantedUnitModel } from "../helpers/planted-unit.ts";
import { ROOT, runCli } from "../cli/run-cli.ts";

const fixtures = join(ROOT, "fixtures");
const MEMBERS = readdirSync(join(fixtures, "data/candidates/member")).sort().slice(0, 24);
const CONFIG = { views: 4, seed: 7, top: 1000, preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } };

async function allPages(s: EngineServer, id: string, query: string): Promise<UnitResult[]> {
  const rows: UnitResult[] = [];
  let cursor: string | null = null;
  do {
    const r: { status: number; body: { items: UnitResult[]; nextCursor: string | null } } = await s.alice.json<{ items: UnitResult[]; nextCursor: string | null }>(`/v1/audits/${id}/results?limit=50${query}${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    rows.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor !== null);
  return rows;
}

describe("UnitMem audits through the API", () => {
  let s: EngineServer;
  before(async () => {
    s = await startEngineServer();
  });
  after(() => s.close());

  it("gives the per-unit results, report and pages of `sslmem units` on the fixture encoder", async () => {
    const dir = tempDir();
    const json = join(dir, "units.json");
    const candidatesDir = join(dir, "candidates");
    mkdirSync(candidatesDir);
    for (const n of MEMBERS) copyFileSync(join(fixtures, "data/candidates/member", n), join(candidatesDir, n));
    const cli = await runCli([
      "units", "--encoder", join(fixtures, "encoders/target.onnx"), "--candidates", candidatesDir,
      "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--views", "4", "--seed", "7", "--top", "1000",
      "--providers", "cpu", "--threads", "1", "-o", `json=${json}`, "--quiet",
    ], { timeoutMs: 300_000 });
    assert.equal(cli.status, 0, cli.stderr);
    const local = UnitMemReportSchema.parse(JSON.parse(readFileSync(json, "utf8")));

    const encoder = await s.alice.putBlob(readFileSync(join(fixtures, "encoders/target.onnx")));
    const candidates = await s.alice.putBlob(writeTar(MEMBERS.map((n) => ({ name: n, data: readFileSync(join(candidatesDir, n)) }))));
    const submitted = await s.alice.submit({ kind: "unitmem", encoder, candidates, config: CONFIG });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal(submitted.body.kind, "unitmem");
    assert.deepEqual(submitted.body.inputs, { target: encoder, candidates });
    const done = await s.alice.waitFor(submitted.body.id, undefined, 50, 300_000);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const id = done.id;

    // The report: the CLI's, but for the run's identity.
    const reportRes = await s.alice.json<UnitMemReport>(`/v1/audits/${id}/report`);
    assert.equal(reportRes.status, 200);
    const served = UnitMemReportSchema.parse(reportRes.body);
    assert.equal(served.run.id, id);
    assert.deepEqual({ ...served.run, id: "", created: "" }, { ...local.run, id: "", created: "" });
    assert.deepEqual(served.layers, local.layers);
    assert.deepEqual(served.topUnits, local.topUnits);
    assert.deepEqual(served.points, local.points);

    // The per-unit rows: every unit (the CLI lists them all with --top 1000), exactly its values.
    const units = local.layers.reduce((n, l) => n + l.units, 0);
    assert.ok(units <= 1000, `the fixture encoder has ${units} units; --top 1000 lists them all`);
    const byUnitMem = await allPages(s, id, "&order=unitMem");
    assert.equal(byUnitMem.length, units);
    assert.deepEqual(
      byUnitMem.map(({ layer, unit, unitMem, point, muMax, muOthers }) => ({ layer, unit, unitMem, point, muMax, muOthers })),
      local.topUnits,
      "order=unitMem lists the units as the CLI ranks them, with identical values",
    );
    const byIndex = await allPages(s, id, "");
    assert.deepEqual(byIndex.map((r) => r.index), [...Array(units).keys()]);
    assert.deepEqual(new Set(byIndex.map((r) => r.layer)).size, local.layers.length);
    const last = local.layers.at(-1)!;
    const ofLayer = await allPages(s, id, `&layer=${encodeURIComponent(last.name)}`);
    assert.equal(ofLayer.length, last.units);
    assert.ok(Math.abs(Math.max(...ofLayer.map((r) => r.unitMem)) - last.maxUnitMem) <= 1e-12);

    const csv = await s.alice.request(`/v1/audits/${id}/results?format=csv`);
    assert.equal(csv.status, 200);
    const lines = (await csv.text()).trim().split("\r\n");
    assert.equal(lines[0], "index,layer,unit,unitMem,point,muMax,muOthers");
    assert.equal(lines.length, units + 1);
    const ndjson = await s.alice.request(`/v1/audits/${id}/results?order=unitMem`, { headers: { accept: "application/x-ndjson" } });
    const streamed = (await ndjson.text()).trim().split("\n").map((l) => JSON.parse(l) as UnitResult);
    assert.deepEqual(streamed, byUnitMem);

    // The HTML page: the CLI's renderer, with the thumbnails of the points the top units single out.
    const html = await s.alice.request(`/v1/audits/${id}/report?format=html`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get("content-type") ?? "", /^text\/html/);
    assert.ok(html.headers.get("content-security-policy"));
    const page = await html.text();
    assert.match(page, /UnitMem: which units single out one image/);
    assert.match(page, /aria-label="UnitMem distribution per layer"/);
    assert.ok((page.match(/<img src="data:image\/(png|jpeg);base64,/g) ?? []).length >= 5, "thumbnails of the singled-out points");

    // The audit resource: kind, summary.
    const resource = await s.alice.audit(id);
    assert.equal(resource.kind, "unitmem");
    const summary = resource.summary as { points: number; units: number; baseline: string; topUnit: { point: string } };
    assert.deepEqual([summary.points, summary.units, summary.baseline], [MEMBERS.length, units, "median"]);
    assert.equal(summary.topUnit.point, local.topUnits[0].point);

    // What does not apply to UnitMem: SSLMem report formats, SSLMem result filters.
    for (const format of ["junit", "sarif", "csv"]) {
      const r = await s.alice.json<{ code: string; detail: string }>(`/v1/audits/${id}/report?format=${format}`);
      assert.equal(r.status, 406, format);
      assert.equal(r.body.code, "not_acceptable");
      assert.match(r.body.detail, /json \(sslmem\.unitmem\/v1\) or html/);
    }
    const accept = await s.alice.json<{ code: string }>(`/v1/audits/${id}/report`, { headers: { accept: "application/xml" } });
    assert.deepEqual([accept.status, accept.body.code], [406, "not_acceptable"]);
    const flagged = await s.alice.json<{ code: string; errors: { path: string; location: string }[] }>(`/v1/audits/${id}/results?flagged=true&role=candidate`);
    assert.equal(flagged.status, 400);
    assert.equal(flagged.body.code, "validation_failed");
    assert.deepEqual(flagged.body.errors.map((e) => `${e.location}:${e.path}`), ["query:flagged", "query:role"]);

    // Another tenant sees none of it.
    assert.equal((await s.bob.request(`/v1/audits/${id}/results`)).status, 404);

    // DELETE purges the unit rows with the audit, and the candidates blob nobody else uses.
    assert.equal(await s.store.countUnitResults(id), units);
    assert.equal((await s.alice.request(`/v1/audits/${id}`, { method: "DELETE" })).status, 204);
    assert.equal(await s.store.countUnitResults(id), 0);
    assert.equal(await s.blobs.has(candidates), false, "the candidates were purged");
    assert.equal((await s.alice.request(`/v1/audits/${id}/results`)).status, 404);
  });

  it("singles out the planted unit's image (multipart submission)", async () => {
    const form = new FormData();
    form.set("kind", "unitmem");
    form.set("encoder", new Blob([plantedUnitModel()]), "planted.onnx");
    form.set("candidates", new Blob([plantedCandidatesNpy()]), "points.npy");
    form.set("config", JSON.stringify({ views: 6, seed: 2, batchSize: 5, preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] } }));
    const res = await s.alice.json<{ id: string; kind: string }>("/v1/audits", { method: "POST", body: form });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.kind, "unitmem");
    const done = await s.alice.waitFor(res.body.id, undefined, 50, 300_000);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const top = await s.alice.json<{ items: UnitResult[] }>(`/v1/audits/${done.id}/results?order=unitMem&limit=1`);
    // .npy point ids are row numbers.
    // The planted channel (its spatial mean in `features`, the same value pooled into `embedding`).
    assert.deepEqual({ unit: top.body.items[0].unit, point: top.body.items[0].point }, { unit: 0, point: String(RED) });
    assert.ok(["features", "embedding"].includes(top.body.items[0].layer));
    assert.ok(top.body.items[0].unitMem > 0.8, `UnitMem of the planted unit ${top.body.items[0].unitMem}`);
    const report = UnitMemReportSchema.parse((await s.alice.json(`/v1/audits/${done.id}/report`)).body);
    assert.equal(report.points[0].id, String(RED), "the red image is the point most units single out");
    const events = await s.store.readEvents(done.id, 0, 1000);
    const stages = new Set(events.filter((e) => e.type === "progress").map((e) => (e.data as { stage: string }).stage));
    assert.deepEqual([...stages], ["loading", "measuring", "finalizing"]);
  });
});
