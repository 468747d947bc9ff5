import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rowOf, scoreOf } from "../jobs/test-executor.ts";
import { createAudit, problemOf, startHarness, waitForState, type Harness } from "./harness.ts";

const POINTS = 2500; // more than one store chunk (1000), so streaming crosses chunk boundaries

describe("results and report", () => {
  let h: Harness;
  let id: string;
  before(async () => {
    h = await startHarness({ executor: { points: POINTS, batchSize: 500 } });
    id = await createAudit(h);
    await waitForState(h.store, id, ["succeeded"]);
  });
  after(() => h.close());

  it("pages JSON results with limit and cursor, in index order, every row exactly once", async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.request(`/v1/audits/${id}/results?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      const page = (await res.json()) as { items: { index: number }[]; nextCursor: string | null };
      seen.push(...page.items.map((r) => r.index));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(seen, Array.from({ length: POINTS }, (_, i) => i));
  });

  it("filters flagged points", async () => {
    const res = await h.request(`/v1/audits/${id}/results?flagged=true&limit=1000`);
    const page = (await res.json()) as { items: { index: number; flagged: boolean }[] };
    assert.equal(page.items.length, POINTS / 4);
    assert.ok(page.items.every((r) => r.flagged && r.index % 4 === 0));
  });

  it("streams every row as NDJSON (Accept) with the stored values", async () => {
    const res = await h.request(`/v1/audits/${id}/results`, { headers: { accept: "application/x-ndjson" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as { index: number; score: number; id: string });
    assert.equal(lines.length, POINTS);
    // max score: point 2496 (a multiple of 4); min: point 7 (score 0).
    assert.deepEqual(lines[1234], { ...rowOf(1234), scoreNormalized: scoreOf(1234) / (scoreOf(2496) - scoreOf(7)), flagged: false });
    assert.equal(lines[POINTS - 1].index, POINTS - 1);
  });

  it("streams every row as CSV (?format=csv) with a header", async () => {
    const res = await h.request(`/v1/audits/${id}/results?format=csv&flagged=true`, { headers: { accept: "application/json" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.match(res.headers.get("content-disposition") ?? "", /attachment; filename="aud_.*-results\.csv"/);
    const rows = (await res.text()).split("\r\n").filter(Boolean);
    assert.equal(rows[0], "index,id,role,alignTarget,alignReference,score,stdErr,pairs,scoreNormalized,pValue,flagged");
    assert.equal(rows.length, 1 + POINTS / 4);
    assert.equal(rows[2].split(",")[1], "img/0004.png");
    assert.equal(rows[2].split(",")[10], "true");
  });

  it("answers 406 when Accept names nothing it can produce, 400 for a bad cursor", async () => {
    const res = await h.request(`/v1/audits/${id}/results`, { headers: { accept: "image/png" } });
    assert.equal(res.status, 406);
    assert.equal((await problemOf(res)).code, "not_acceptable");
    const bad = await h.request(`/v1/audits/${id}/results?cursor=zzz`);
    assert.equal(bad.status, 400);
    assert.equal((await problemOf(bad)).code, "validation_failed");
  });

  it("answers 400 for ?layers= on an audit that measured no layers (LayerMem), in every format", async () => {
    for (const format of ["json", "ndjson", "csv"]) {
      const res = await h.request(`/v1/audits/${id}/results?layers=all&format=${format}`);
      assert.equal(res.status, 400, format);
      const problem = (await problemOf(res)) as { code: string; detail: string; errors: { path: string; location: string }[] };
      assert.equal(problem.code, "validation_failed");
      assert.match(problem.detail, /measures no layers; submit it with config\.layers/);
      assert.deepEqual(problem.errors.map((e) => [e.path, e.location]), [["layers", "query"]]);
    }
    const audit = (await (await h.request(`/v1/audits/${id}`)).json()) as Record<string, unknown>;
    assert.equal("layers" in audit, false, "an audit without LayerMem shows no layers");
  });

  it("serves the v1 report with the points read back from the store", async () => {
    const res = await h.request(`/v1/audits/${id}/report`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const report = (await res.json()) as { schemaVersion: string; audit: { id: string }; points: { id: string; score: number; flagged: boolean }[] };
    assert.equal(report.schemaVersion, "sslmem.report/v1");
    assert.equal(report.audit.id, id);
    assert.equal(report.points.length, POINTS);
    assert.deepEqual([report.points[8].id, report.points[8].score, report.points[8].flagged], ["img/0008.png", scoreOf(8), true]);
    const unknown = await h.request(`/v1/audits/${id}/report`, { headers: { accept: "image/png" } });
    assert.equal(unknown.status, 406);
  });

  it("renders html, junit, sarif and csv by Accept or ?format=", async () => {
    const cases: [string, Record<string, string>, RegExp, RegExp][] = [
      ["", { accept: "text/html" }, /^text\/html/, /<html[\s\S]*img\/2496\.png/],
      ["?format=junit", {}, /^application\/xml/, /<testsuite[\s\S]*img\/2496\.png/],
      ["?format=sarif", { accept: "text/html" }, /^application\/sarif\+json/, /"version":\s*"2\.1\.0"[\s\S]*img\/2496\.png/],
      ["?format=csv", {}, /^text\/csv/, /img\/2496\.png/],
    ];
    for (const [query, headers, type, body] of cases) {
      const res = await h.request(`/v1/audits/${id}/report${query}`, { headers });
      assert.equal(res.status, 200, query);
      assert.match(res.headers.get("content-type") ?? "", type);
      assert.match(res.headers.get("content-disposition") ?? "", new RegExp(`filename="${id}\\.`));
      assert.match(await res.text(), body, query);
      if (type.source.includes("html")) assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    }
  });
});

describe("report before the audit finished", () => {
  it("is 409 audit_not_finished", async () => {
    const h = await startHarness({ startRunner: false });
    try {
      const id = await createAudit(h);
      const res = await h.request(`/v1/audits/${id}/report`);
      assert.equal(res.status, 409);
      const problem = await problemOf(res);
      assert.equal(problem.code, "audit_not_finished");
      assert.equal(problem.state, "queued");
    } finally {
      await h.close();
    }
  });
});
