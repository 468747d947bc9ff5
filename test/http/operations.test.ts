import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildApiDocument } from "../../src/http/openapi.ts";
import { AuditDurations, renderPrometheus, HttpMetrics } from "../../src/http/metrics.ts";
import { createAudit, startHarness, waitForState, type Harness } from "./harness.ts";

describe("health, metrics and docs", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("/livez passes; /readyz lists its probes and fails (503) when a critical one fails", async () => {
    const live = await h.request("/livez", { token: null });
    assert.deepEqual(await live.json(), { status: "pass" });
    const ready = await h.request("/readyz", { token: null });
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; checks: { name: string; critical: boolean; status: string }[] };
    assert.equal(body.status, "pass");
    assert.deepEqual(
      body.checks.map((c) => [c.name, c.critical, c.status]),
      [
        ["accepting", true, "pass"],
        ["store", true, "pass"],
        ["runner", true, "pass"],
        ["event-loop", false, "pass"],
      ],
    );
  });

  it("/metrics exposes audits by state, points, views/s, queue depth, latency and event-loop lag", async () => {
    const id = await createAudit(h);
    await waitForState(h.store, id, ["succeeded"]);
    await (await h.request(`/v1/audits/${id}`)).json();
    const res = await h.request("/metrics", { token: null });
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    assert.match(text, /^sslmem_audits\{state="succeeded"\} 1$/m);
    assert.match(text, /^sslmem_audits\{state="queued"\} 0$/m);
    assert.match(text, /^sslmem_points_scored_total 10$/m);
    assert.match(text, /^sslmem_views_per_second \d/m);
    assert.match(text, /^sslmem_audit_queue_depth 0$/m);
    assert.match(text, /^sslmem_event_loop_lag_seconds\{quantile="0.99"\} \d/m);
    assert.match(text, /^sslmem_http_request_duration_seconds_count\{method="GET",route="\/v1\/audits\/\{id\}",status="200"\} 1$/m);
    assert.match(text, /^sslmem_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/audits",status="202",le="\+Inf"\} 1$/m);
    assert.equal(text.includes(id), false, "raw paths must not become labels");
    assert.match(text, /^sslmem_build_info\{version="\d+\.\d+\.\d+[^"]*",node="\d+\.\d+\.\d+"\} 1$/m);
    assert.match(text, /^sslmem_audit_duration_seconds_count\{outcome="succeeded"\} 1$/m);
    assert.match(text, /^sslmem_audit_duration_seconds_bucket\{outcome="succeeded",le="\+Inf"\} 1$/m);
  });

  it("/readyz fails when the runner is stopped", async () => {
    const own = await startHarness();
    try {
      await own.runner.stop({ graceMs: 0 });
      const res = await own.request("/readyz", { token: null });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { status: string; checks: { name: string; status: string }[] };
      assert.equal(body.status, "fail");
      assert.equal(body.checks.find((c) => c.name === "runner")?.status, "fail");
    } finally {
      await own.close();
    }
  });

  it("/openapi.json is the generated document; /docs renders it with nothing loaded from elsewhere", async () => {
    const served = await (await h.request("/openapi.json", { token: null })).json();
    assert.deepEqual(served, JSON.parse(JSON.stringify(buildApiDocument())));
    const res = await h.request("/docs", { token: null });
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await res.text();
    for (const path of Object.keys((served as { paths: object }).paths)) {
      assert.ok(html.includes(`<code>${path.replace(/&/g, "&amp;")}</code>`), `docs lack ${path}`);
    }
    assert.equal(/<script|<link|<img|@import|url\(/i.test(html), false, "the page must not load anything");
    assert.equal(/(src|href)="(https?:)?\/\//i.test(html), false, "no external references");
  });
});

describe("renderPrometheus", () => {
  it("writes cumulative buckets, sum and count, and escapes label values", () => {
    const m = new HttpMetrics();
    m.observe({ method: "GET", route: 'a"b\\c', status: 200 }, 0.02);
    m.observe({ method: "GET", route: 'a"b\\c', status: 200 }, 3);
    const durations = new AuditDurations();
    durations.observe("failed", 90);
    const text = renderPrometheus({
      http: m,
      auditDurations: durations,
      auditsByState: { queued: 1, running: 0, succeeded: 2, failed: 0, cancelled: 0 },
      throughput: { pointsScoredTotal: 5, viewsPerSecond: 1.5 },
      queueDepth: 1,
      eventLoopLag: { p50: 0, p99: 0.25, max: 0.5 },
    });
    const labels = 'method="GET",route="a\\"b\\\\c",status="200"';
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_bucket{${labels},le="0.01"} 0\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_bucket{${labels},le="0.025"} 1\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_bucket{${labels},le="2.5"} 1\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_bucket{${labels},le="5"} 2\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_bucket{${labels},le="+Inf"} 2\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_sum{${labels}} 3.02\n`));
    assert.ok(text.includes(`sslmem_http_request_duration_seconds_count{${labels}} 2\n`));
    assert.ok(text.includes('sslmem_event_loop_lag_seconds{quantile="0.99"} 0.25\n'));
    assert.ok(text.includes('sslmem_audit_duration_seconds_bucket{outcome="failed",le="60"} 0\n'));
    assert.ok(text.includes('sslmem_audit_duration_seconds_bucket{outcome="failed",le="300"} 1\n'));
    assert.ok(text.includes('sslmem_audit_duration_seconds_sum{outcome="failed"} 90\n'));
    assert.ok(text.includes("sslmem_views_per_second 1.5\n"));
  });
});
