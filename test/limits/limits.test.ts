/**
 * Every configurable limit of docs/limits-and-security.md, set through the environment variable
 * an operator would use, enforced with its documented status and code. HTTP-level limits run on
 * the HTTP harness; ingestion limits (enforced while the audit opens its inputs) run through the
 * real engine on its worker thread, which must receive them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { loadConfig } from "../../src/config.ts";
import { Gate } from "../jobs/test-executor.ts";
import { encodePng, solidPng } from "../helpers/data-png.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs, type EngineServer } from "../helpers/engine-server.ts";
import { problemOf, startHarness, submitJson, uploadInputs, type Harness } from "../http/harness.ts";
import type { EventLoopLag } from "../../src/http/event-loop.ts";

/** The configuration an operator gets from these variables (the path every limit takes). */
const fromEnv = (env: Record<string, string>) => {
  const c = loadConfig(env);
  const { ratioGraceBytes: _fixed, ...ingest } = c.ingest; // not a setting
  return { limits: c.limits, ingest };
};

describe("HTTP limits", () => {
  let h: Harness;
  let hold: Gate | undefined;
  before(async () => {
    const { limits } = fromEnv({
      SSLMEM_MAX_QUEUE: "2",
      SSLMEM_QUEUE_RETRY_AFTER_SECONDS: "9",
      SSLMEM_BODY_TIMEOUT_MS: "300",
      SSLMEM_MAX_JSON_BYTES: "2048",
      SSLMEM_MAX_VIEWS: "64",
    });
    h = await startHarness({ config: { limits }, executor: { firstBatchGate: () => hold } });
  });
  after(async () => {
    hold?.open();
    await h.close();
  });

  it("SSLMEM_BODY_TIMEOUT_MS: a JSON body that stalls gets 408 request_timeout and queues nothing", async () => {
    const inputs = await uploadInputs(h, "stall");
    const body = JSON.stringify(inputs);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(h.url + "/v1/audits", {
        method: "POST",
        headers: { authorization: `Bearer ${h.tokens.alice}`, "content-type": "application/json", "content-length": String(body.length) },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.write(body.slice(0, 20)); // …and nothing more
    });
    assert.equal(answer.status, 408);
    assert.equal((JSON.parse(answer.text) as { code: string }).code, "request_timeout");
    assert.deepEqual((await h.store.listAudits("alice", { limit: 10 })).items, []);
  });

  it("SSLMEM_MAX_JSON_BYTES: 413 while streaming, with or without Content-Length", async () => {
    const inputs = await uploadInputs(h, "big");
    const big = JSON.stringify({ ...inputs, config: { augment: { ops: [] } }, pad: "x".repeat(4000) });
    const declared = await submitJson(h, JSON.parse(big));
    assert.equal(declared.status, 413);
    assert.equal((await problemOf(declared)).code, "payload_too_large");
    const chunked = await h.request("/v1/audits", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await problemOf(chunked)).maxBytes, 2048);
  });

  it("SSLMEM_MAX_VIEWS: config.views above it is 400 validation_failed naming the field", async () => {
    const inputs = await uploadInputs(h, "views");
    const res = await submitJson(h, { ...inputs, config: { views: 65 } });
    assert.equal(res.status, 400);
    const problem = await problemOf(res);
    assert.equal(problem.code, "validation_failed");
    assert.deepEqual((problem.errors as { path: string }[]).map((e) => e.path), ["config.views"]);
    assert.equal((await submitJson(h, { ...inputs, config: { views: 64 } })).status, 202);
  });

  it("SSLMEM_MAX_QUEUE: concurrent submissions never overshoot it; 429 queue_full with Retry-After; a replay is still answered", async () => {
    hold = new Gate();
    const inputs = await uploadInputs(h, "queue");
    // Drain what earlier tests queued, then hold one audit running so the others wait.
    for (const a of (await h.store.listAudits("alice", { limit: 100 })).items) await h.runner.cancel(a.id);
    const running = await submitJson(h, { ...inputs, config: { seed: 100 } });
    assert.equal(running.status, 202);
    await hold.reached;
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => submitJson(h, { ...inputs, config: { seed: i } }, { headers: { "idempotency-key": `q-${i}` } })),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [202, 202, 429, 429, 429, 429, 429, 429, 429, 429], "exactly the queue's room is accepted");
    const refused = answers.find((r) => r.status === 429)!;
    assert.equal(refused.headers.get("retry-after"), "9");
    assert.equal((await problemOf(refused)).code, "queue_full");
    assert.equal((await h.store.countAuditsByState()).queued, 2);
    // The client whose request was accepted retries it (lost response): same audit, not 429.
    const acceptedIndex = answers.findIndex((r) => r.status === 202);
    const accepted = (await answers[acceptedIndex].json()) as { id: string };
    const replay = await submitJson(h, { ...inputs, config: { seed: acceptedIndex } }, { headers: { "idempotency-key": `q-${acceptedIndex}` } });
    assert.equal(replay.status, 200);
    assert.equal(((await replay.json()) as { id: string }).id, accepted.id);
    for (const r of answers) if (!r.bodyUsed) await r.body?.cancel();
    hold.open();
    hold = undefined;
  });
});

describe("ingestion limits through the engine (worker thread)", () => {
  let s: EngineServer;
  let models: { target: string; reference: string };
  before(async () => {
    const { ingest } = fromEnv({
      SSLMEM_MAX_POINTS: "3",
      SSLMEM_MAX_ARCHIVE_ENTRIES: "6",
      SSLMEM_MAX_PIXELS: "1000",
      SSLMEM_MAX_FILE_BYTES: "4000",
      SSLMEM_MAX_EXPANDED_BYTES: "200000",
    });
    s = await startEngineServer({ config: { ingest } });
    const pair = tinyEncoderPair();
    models = { target: await s.alice.putBlob(pair.target), reference: await s.alice.putBlob(pair.reference) };
  });
  after(() => s.close());

  const failsWith = async (candidates: Uint8Array, code: string, detail: RegExp) => {
    const r = await s.alice.submit({ ...models, candidates: await s.alice.putBlob(candidates), config: { views: 1 } });
    assert.equal(r.status, 202);
    const audit = await s.alice.waitFor(r.body.id);
    assert.equal(audit.state, "failed");
    assert.equal(audit.error?.code, code, JSON.stringify(audit.error));
    assert.equal(audit.error?.status, 422);
    assert.match(String(audit.error?.detail), detail);
  };

  it("SSLMEM_MAX_POINTS (candidates per audit): too_many_points", async () => {
    await failsWith(randomNpy(4, 16, 1), "too_many_points", /more than 3 points/);
    const ok = await s.alice.submit({ ...models, candidates: await s.alice.putBlob(randomNpy(3, 16, 1)), config: { views: 1 } });
    assert.equal((await s.alice.waitFor(ok.body.id)).state, "succeeded", "at the limit is allowed");
  });

  it("SSLMEM_MAX_ARCHIVE_ENTRIES: archive_too_large", async () => {
    const entries = Array.from({ length: 7 }, (_, i) => ({ name: `d/${i}.txt`, data: Buffer.from("x") }));
    await failsWith(writeTar(entries), "archive_too_large", /more than 6 entries/);
  });

  it("SSLMEM_MAX_PIXELS: image_too_large from the header, before decoding", async () => {
    await failsWith(writeTar([{ name: "big.png", data: solidPng(40, 40, [10, 20, 30]) }]), "image_too_large", /40×40 pixels .* limit of 1000/);
  });

  it("SSLMEM_MAX_FILE_BYTES: image_too_large for an oversized member", async () => {
    const padded = encodePng({
      width: 4,
      height: 4,
      colorType: 2,
      samples: new Array(48).fill(7),
      chunks: [{ type: "tEXt", data: Buffer.from(`Comment\0${"p".repeat(5000)}`) }],
    });
    await failsWith(writeTar([{ name: "padded.png", data: padded }]), "image_too_large", /limit of 4000/);
  });

  it("SSLMEM_MAX_EXPANDED_BYTES: archive_too_large while decompressing", async () => {
    const tgz = gzipSync(writeTar([{ name: "zeros.bin", data: Buffer.alloc(300_000) }]));
    await failsWith(tgz, "archive_too_large", /more than 200000 bytes/);
  });
});

describe("SSLMEM_MAX_EXPANSION_RATIO", () => {
  it("refuses a gzip bomb by its ratio (archive_too_large) while decompressing", async () => {
    const s = await startEngineServer({ config: { ingest: fromEnv({ SSLMEM_MAX_EXPANSION_RATIO: "50" }).ingest } });
    try {
      const pair = tinyEncoderPair();
      const bomb = gzipSync(writeTar([{ name: "zeros.bin", data: Buffer.alloc(24 * 1024 * 1024) }]));
      assert.ok(bomb.length < 100_000);
      const inputs = await uploadAuditInputs(s.alice, { ...pair, candidates: bomb });
      const r = await s.alice.submit({ ...inputs, config: { views: 1 } });
      const audit = await s.alice.waitFor(r.body.id);
      assert.equal(audit.error?.code, "archive_too_large", JSON.stringify(audit.error));
      assert.match(String(audit.error?.detail), /more than 50× its compressed size/);
    } finally {
      await s.close();
    }
  });
});

describe("SSLMEM_SHED_LAG_MS", () => {
  it("sheds /v1 calls with 503 unavailable + Retry-After while the event loop lags; probes still answer", async () => {
    // The lag is injected (what a blocking inference call causes, measured by EventLoopMonitor
    // in service): the test decides it, so the outcome does not depend on the machine's load.
    const lag: EventLoopLag = { p50: 0, p99: 0, max: 0 };
    const h = await startHarness({ config: { limits: fromEnv({ SSLMEM_SHED_LAG_MS: "50" }).limits }, eventLoop: { lag: () => lag } });
    try {
      lag.p99 = 0.049;
      assert.equal((await h.request("/v1/audits")).status, 200, "a lag under the limit sheds nothing");
      lag.p99 = 0.2;
      const shed = await h.request("/v1/audits");
      assert.equal(shed.status, 503, "a lagging loop sheds /v1 calls");
      assert.equal(shed.headers.get("retry-after"), "1");
      assert.equal((await problemOf(shed)).code, "unavailable");
      assert.equal((await h.request("/livez", { token: null })).status, 200);
      assert.equal((await h.request("/readyz", { token: null })).status, 200, "a lag below 1 s is not critical for readiness");
      lag.p99 = 0.01;
      assert.equal((await h.request("/v1/audits")).status, 200, "shedding stops when the lag is back under the limit");
    } finally {
      await h.close();
    }
  });
});
