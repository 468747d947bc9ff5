/**
 * Issue 13, report rendering (CASES.md, "Budgets"): the HTML report of a .tar.gz audit is
 * rendered (candidates re-expanded for thumbnails) once, however many requests ask for it at
 * once or later; different reports render at most `maxConcurrentReportRenders` at a time.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { RenderedReportCache } from "../../src/http/report-cache.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { pngTar, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";

describe("issue 13: report rendering budget", () => {
  it("B16 eight concurrent HTML report requests (GET and HEAD) on a .tar.gz audit render it once; later ones are served from the cache", async () => {
    const s = await startEngineServer();
    try {
      const names = Array.from({ length: 12 }, (_, i) => `img_${i}.png`);
      const inputs = await uploadAuditInputs(s.alice, { ...tinyEncoderPair(), candidates: gzipSync(await pngTar(names, 16, 4)) });
      const r = await s.alice.submit({ ...inputs, config: { views: 2 } });
      assert.equal((await s.alice.waitFor(r.body.id)).state, "succeeded");
      const path = `/v1/audits/${r.body.id}/report?format=html`;
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => s.alice.request(path, { method: i % 2 ? "HEAD" : "GET" })));
      const bodies = await Promise.all(responses.map((res) => res.text()));
      assert.deepEqual(responses.map((res) => res.status), Array(8).fill(200));
      const page = bodies.find((b) => b.length > 0)!;
      assert.match(page, /data:image\//, "thumbnails were made (the candidates were expanded)");
      for (let i = 0; i < 8; i += 2) assert.equal(bodies[i], page, "every GET got the same page");
      const again = await s.alice.request(path);
      assert.equal(await again.text(), page);
      const renders = s.logs.filter((l) => l.includes('"msg":"report rendered"') && l.includes('"format":"html"'));
      assert.equal(renders.length, 1, "one render for nine requests");
      assert.deepEqual(readdirSync(join(s.dir, "tmp")), [], "no expanded archive is left");
      // Another tenant still cannot read it (the cache sits behind the tenant lookup).
      assert.equal((await s.bob.request(path)).status, 404);
    } finally {
      await s.close();
    }
  });

  it("B16 a render beyond maxConcurrentRenders is refused (the app answers 429 rate_limited); the cache stays within its bytes", async () => {
    const busy = () => new SslmemError("rate_limited", "busy");
    const cache = new RenderedReportCache({ maxBytes: 3000, maxConcurrentRenders: 1, busy });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const report = (n: number) => ({ body: "x".repeat(n), contentType: "text/html", headers: {} });
    const first = cache.get("a|html|", async () => (await gate, report(1000)));
    const joined = cache.get("a|html|", async () => report(1));
    await assert.rejects(cache.get("b|html|", async () => report(10)), (e: unknown) => e instanceof SslmemError && e.code === "rate_limited");
    release();
    assert.equal((await first).body.length, 1000);
    assert.equal((await joined).body.length, 1000, "a request for the same report joins the render in flight");
    await cache.get("b|html|", async () => report(1000));
    await cache.get("c|html|", async () => report(1000));
    assert.ok(cache.bytes <= 3000, `${cache.bytes} bytes kept`);
    assert.equal(cache.renders, 3);
    await cache.get("a|html|", async () => report(5)); // evicted (least recently used): rendered again
    assert.equal(cache.renders, 4);
  });
});
