/**
 * LayerMem through the service, end to end: the CLI's client mode submits `layers: "auto"` on the
 * fixture encoders over real HTTP on 127.0.0.1, the engine child process measures every layer, the
 * rows land in the SQLite store, and what comes back equals the local CLI's run for the same seed —
 * the report's `layers` section, the per-layer rows of the results endpoint (JSON pages, NDJSON,
 * CSV), the audit resource's layers, the HTML plot. A bad layer name fails the audit with the
 * CLI's error; DELETE removes every layer row.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { runLocalAudit } from "../../src/cli/audit-command.ts";
import { runRemoteAudit } from "../../src/cli/remote-audit.ts";
import type { ReportV1 } from "../../src/core/report.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");

interface LayerRow {
  name: string;
  alignTarget: number;
  alignReference: number;
  score: number;
  stdErr: number;
}
interface Row {
  index: number;
  id: string;
  role: string;
  score: number;
  flagged?: boolean;
  layers?: LayerRow[];
}

function candidateDir(): string {
  const dir = join(tempDir(), "candidates");
  for (const group of ["member", "nonmember"]) {
    mkdirSync(join(dir, group), { recursive: true });
    for (const n of readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, 8)) {
      copyFileSync(join(fixtures, "data/candidates", group, n), join(dir, group, n));
    }
  }
  return dir;
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9, `${what}: ${a} vs ${b}`);

describe("LayerMem through the HTTP API", () => {
  let server: EngineServer;
  let local: ReportV1;
  let remote: ReportV1;
  let argv: string[];

  before(async () => {
    server = await startEngineServer({ engineThread: "worker" });
    argv = [
      "--target", join(fixtures, "encoders/target.onnx"),
      "--reference", join(fixtures, "encoders/reference.onnx"),
      "--candidates", candidateDir(),
      "--controls", join(fixtures, "data/controls.npy"),
      "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
      "--views", "4", "--seed", "11", "--fpr", "0.2", "--layers", "auto",
      "--quiet", "--providers", "cpu", "--threads", "1",
    ];
    local = (await runLocalAudit(parseAuditCommand(argv) as never)).report;
    remote = await runRemoteAudit(parseAuditCommand([...argv, "--server", server.url, "--token", server.tokens.alice]) as never);
  });
  after(() => server?.close());

  it("gives the local CLI's per-layer scores, and its last layer is the audit score", () => {
    const [l, r] = [local.layers!, remote.layers!];
    assert.ok(r, "the service's report has a layers section");
    assert.equal(r.layers.length, 6);
    assert.deepEqual(
      r.layers.map(({ name, target, reference, final, shape, dim }) => ({ name, target, reference, final, shape, dim })),
      l.layers.map(({ name, target, reference, final, shape, dim }) => ({ name, target, reference, final, shape, dim })),
    );
    r.layers.forEach((s, i) => {
      close(s.meanScore, l.layers[i].meanScore, `mean of ${s.name}`);
      close(s.medianScore, l.layers[i].medianScore, `median of ${s.name}`);
      close(s.delta, l.layers[i].delta, `delta of ${s.name}`);
      assert.equal(s.flaggedPeaks, l.layers[i].flaggedPeaks, `peaks at ${s.name}`);
    });
    assert.ok(remote.points.some((p) => p.flagged), "the fixture's members are flagged (the peaks are not vacuous)");
    assert.equal(r.points.length, remote.points.length);
    assert.equal(r.points.length, l.points.length);
    r.points.forEach((p, i) => {
      assert.equal(p.id, remote.points[i].id);
      assert.equal(p.id, l.points[i].id);
      p.scores.forEach((s, k) => close(s, l.points[i].scores[k], `layer ${k} of ${p.id}`));
      p.stdErrs.forEach((s, k) => close(s, l.points[i].stdErrs[k], `stdErr ${k} of ${p.id}`));
      assert.ok(Math.abs(p.scores.at(-1)! - remote.points[i].score) <= 1e-6, `final layer of ${p.id} is its score`);
    });
  });

  it("shows the resolved layers on the audit", async () => {
    const { status, body } = await server.alice.json<{ config: { layers: string }; layers: { name: string; final: boolean }[] }>(`/v1/audits/${remote.audit.id}`);
    assert.equal(status, 200);
    assert.equal(body.config.layers, "auto");
    assert.deepEqual(body.layers.map((l) => l.name), remote.layers!.layers.map((l) => l.name));
    assert.equal(body.layers.at(-1)!.final, true);
    const list = await server.alice.json<{ items: Record<string, unknown>[] }>("/v1/audits");
    assert.ok(list.body.items.every((a) => !("layers" in a)), "the list stays one query");
  });

  it("returns per-layer rows with ?layers=, paginated, the same in JSON, NDJSON and CSV", async () => {
    const id = remote.audit.id;
    const names = remote.layers!.layers.map((l) => l.name);
    const rows: Row[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `?layers=all&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await server.alice.json<{ items: Row[]; nextCursor: string | null }>(`/v1/audits/${id}/results${q}`);
      assert.equal(page.status, 200);
      rows.push(...page.body.items);
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    assert.ok(pages > 2);
    assert.equal(rows.length, remote.points.length);
    rows.forEach((row, i) => {
      assert.deepEqual(row.layers!.map((l) => l.name), names);
      row.layers!.forEach((l, k) => {
        close(l.score, remote.layers!.points[i].scores[k], `row ${i} layer ${k}`);
        close(l.stdErr, remote.layers!.points[i].stdErrs[k], `row ${i} stdErr ${k}`);
        close(l.score, l.alignReference - l.alignTarget, `row ${i} layer ${k} is align(g) − align(f)`);
      });
    });

    const plain = await server.alice.json<{ items: Row[] }>(`/v1/audits/${id}/results?limit=3`);
    assert.ok(plain.body.items.every((r) => r.layers === undefined), "no layer arrays unless asked");

    // Two names, asked in reverse: the encoder's order comes back.
    const two = [names[3], names[1]];
    const some = await server.alice.json<{ items: Row[] }>(`/v1/audits/${id}/results?layers=${two.map(encodeURIComponent).join(",")}&flagged=true`);
    assert.equal(some.status, 200);
    assert.ok(some.body.items.length > 0);
    for (const r of some.body.items) {
      assert.equal(r.flagged, true);
      assert.deepEqual(r.layers!.map((l) => l.name), [names[1], names[3]]);
      const full = rows.find((x) => x.index === r.index)!;
      assert.deepEqual(r.layers, [full.layers![1], full.layers![3]]);
    }

    const ndjson = await server.alice.request(`/v1/audits/${id}/results?layers=all&format=ndjson`);
    const lines = (await ndjson.text()).trim().split("\n").map((l) => JSON.parse(l) as Row);
    assert.deepEqual(lines, rows);

    const csv = await server.alice.request(`/v1/audits/${id}/results?layers=${encodeURIComponent(names[5])}&format=csv`);
    const [header, ...records] = (await csv.text()).trim().split("\r\n");
    const cols = header.split(",");
    assert.deepEqual(cols.slice(-4), ["alignTarget", "alignReference", "score", "stdErr"].map((f) => `layer:${names[5]}:${f}`));
    assert.equal(records.length, rows.length);
    records.forEach((rec, i) => {
      const cells = rec.split(",");
      close(Number(cells[cols.indexOf(`layer:${names[5]}:score`)]), rows[i].layers![5].score, `csv row ${i}`);
    });
  });

  it("refuses unknown layer names and layers of an audit that measured none with a 400", async () => {
    const id = remote.audit.id;
    const bad = await server.alice.json<{ code: string; detail: string; errors: { path: string; location: string }[] }>(`/v1/audits/${id}/results?layers=embedding,nope`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "validation_failed");
    assert.match(bad.body.detail, /unknown layer "nope".*"embedding"/);
    assert.deepEqual(bad.body.errors.map((e) => [e.path, e.location]), [["layers", "query"]]);
    const csv = await server.alice.request(`/v1/audits/${id}/results?layers=nope&format=csv`);
    assert.equal(csv.status, 400, "refused before any byte is streamed");
    await csv.body?.cancel();
  });

  it("shows the per-layer plot and table in the HTML report, as the CLI does", async () => {
    const res = await server.alice.request(`/v1/audits/${remote.audit.id}/report?format=html`);
    assert.equal(res.status, 200);
    const page = await res.text();
    assert.match(page, /Where memorization lives \(LayerMem\)/);
    assert.equal((page.match(/data-series="mean"/g) ?? []).length, 6, "one bar per layer");
    assert.match(page, /backbone\.16\/Relu_output_0/);
  });

  it("fails an audit whose layer name an encoder lacks with the CLI's error", async () => {
    const first = await server.alice.json<{ config: Record<string, unknown>; inputs: { target: string; reference: string; candidates: string } }>(`/v1/audits/${remote.audit.id}`);
    const { target, reference, candidates } = first.body.inputs;
    const sub = await server.alice.submit({ target, reference, candidates, config: { ...first.body.config, layers: ["/backbone/missing"] } });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const done = await server.alice.waitFor(sub.body.id, undefined, 50, 120_000);
    assert.equal(done.state, "failed");
    assert.equal(done.error?.code, "invalid_config");
    assert.match(String(done.error?.detail), /layers: the target encoder has no value named/);
  });

  it("removes every layer row with the audit (DELETE)", async () => {
    const id = remote.audit.id;
    const count = (table: string) => {
      const db = new Database(join(server.dir, "sslmem.db"), { readonly: true });
      try {
        return Number(db.prepare(`SELECT count(*) FROM ${table} WHERE audit_id = ?`).pluck().get(id));
      } finally {
        db.close();
      }
    };
    assert.equal(count("audit_result_layers"), remote.points.length * 6);
    assert.equal(count("audit_layers"), 6);
    const del = await server.alice.request(`/v1/audits/${id}`, { method: "DELETE" });
    assert.equal(del.status, 204);
    assert.equal(count("audit_result_layers"), 0);
    assert.equal(count("audit_layers"), 0);
    assert.equal(count("audit_results"), 0);
  });
});
