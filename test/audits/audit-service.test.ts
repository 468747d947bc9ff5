/**
 * The AuditService on a real SQLite store: each write moves the state and appends exactly one
 * event, only for the caller whose conditional transition won; failures map to problems with the
 * log policy (user errors logged by code only); progress is refused once the audit is not running.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditService } from "../../src/audits/audit-service.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { digestOf } from "../store/store-contract.ts";

interface Logged {
  level: "warn" | "error";
  fields: Record<string, unknown>;
  message: string;
}

describe("AuditService", () => {
  let dir: string;
  let store: SqliteStore;
  let logged: Logged[];
  let woken: string[];
  let clock: number;
  let audits: AuditService;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sslmem-audits-"));
    clock = Date.parse("2026-01-01T00:00:00Z");
    store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL", now: () => clock });
    logged = [];
    woken = [];
    const log = (level: Logged["level"]) => (fields: object, message: string) => logged.push({ level, fields: { ...fields }, message });
    audits = new AuditService({ store, logger: { warn: log("warn"), error: log("error") }, onEvent: (id) => woken.push(id), now: () => clock });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function create(key?: string) {
    const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
    for (const d of Object.values(inputs)) await store.recordBlob({ tenant: "acme", digest: d, size: 1 });
    return audits.create({ tenant: "acme", config: {}, inputs, requestHash: "h", ...(key ? { idempotencyKey: key } : {}) });
  }
  const states = async (id: string) => (await store.readEvents(id, 0)).filter((e) => e.type === "state").map((e) => e.data);

  it("creates a queued audit with its first event; a replay of the same key appends nothing", async () => {
    const first = await create("k");
    assert.equal(first.created, true);
    const replay = await create("k");
    assert.deepEqual([replay.created, replay.audit.id], [false, first.audit.id]);
    assert.deepEqual(await states(first.audit.id), [{ state: "queued" }]);
    assert.deepEqual(woken, [first.audit.id], "SSE streams are woken once");
  });

  it("writes the audit with its sources event and deliveries in one go; a refused one leaves nothing and wakes no one", async () => {
    const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
    for (const d of Object.values(inputs)) await store.recordBlob({ tenant: "acme", digest: d, size: 1 });
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const sources = { target: { uri: "hf://acme/encoder", scheme: "hf" as const, resolved: `hf://acme/encoder@${commit}`, commit, digest: inputs.target, size: 1 } };
    const deliveries = [{ kind: "callback", payload: { url: "https://hooks.test/cb" } }];
    const refused = audits.create({ tenant: "acme", config: {}, inputs, sources, deliveries: [...deliveries, ...deliveries] });
    await assert.rejects(refused, { code: "validation_failed" });
    assert.deepEqual([await store.tenantUsage("acme").then((u) => u.audits), woken], [0, []]);

    const { audit, created } = await audits.create({ tenant: "acme", config: {}, inputs, sources, deliveries, idempotencyKey: "k", requestHash: "h" });
    assert.equal(created, true);
    assert.deepEqual((await store.readEvents(audit.id, 0)).map((e) => [e.type, e.data]), [
      ["state", { state: "queued" }],
      ["sources", sources],
    ]);
    assert.deepEqual((await store.deliveriesOfAudit(audit.id)).map((d) => [d.key, d.payload]), [[`callback:${audit.id}`, { url: "https://hooks.test/cb" }]]);
    assert.deepEqual(woken, [audit.id], "SSE streams are woken once, after the commit");
    const replay = await audits.create({ tenant: "acme", config: {}, inputs, sources, deliveries, idempotencyKey: "k", requestHash: "h" });
    assert.equal(replay.created, false);
    assert.equal((await store.readEvents(audit.id, 0)).length, 2);
    assert.equal((await store.deliveriesOfAudit(audit.id)).length, 1);
  });

  it("starts, succeeds, and refuses moves another writer already made", async () => {
    const { audit } = await create();
    const started = await audits.start(audit.id);
    assert.deepEqual([started?.state, started?.attempt], ["running", 1]);
    assert.equal(await audits.start(audit.id), null, "not queued any more");
    assert.equal(await audits.succeed(audit.id, { summary: { flagged: 0 }, report: { schemaVersion: "x" } }), true);
    assert.equal(await audits.cancel(audit.id, ["queued", "running"]), false, "a finished audit stays finished");
    assert.deepEqual(await states(audit.id), [{ state: "queued" }, { state: "running", attempt: 1 }, { state: "succeeded", summary: { flagged: 0 } }]);
    const stored = await store.getAuditInternal(audit.id);
    assert.deepEqual([stored?.summary, stored?.report], [{ flagged: 0 }, { schemaVersion: "x" }]);
  });

  it("fails once when two writers fail the audit at the same moment; a user error is logged by code only", async () => {
    const { audit } = await create();
    await audits.start(audit.id);
    const err = new SslmemError("image_invalid", "images/secret-patient.png is not an image");
    const outcomes = await Promise.all([audits.fail(audit.id, err), audits.fail(audit.id, err)]);
    assert.deepEqual(outcomes.sort(), [false, true]);
    const failed = await store.getAuditInternal(audit.id);
    assert.equal(failed?.error?.code, "image_invalid");
    assert.equal(failed?.error?.detail, "images/secret-patient.png is not an image", "the owner reads the message");
    assert.equal((await states(audit.id)).filter((s) => s.state === "failed").length, 1, "one failed event");
    assert.deepEqual(logged, [{ level: "warn", fields: { auditId: audit.id, code: "image_invalid" }, message: "audit failed" }]);
    assert.doesNotMatch(JSON.stringify(logged), /secret-patient/, "no point id in the log");
  });

  it("maps an engine crash to a generic engine_failure, the error itself only in the log", async () => {
    const { audit } = await create();
    await audits.start(audit.id);
    assert.equal(await audits.fail(audit.id, new Error("ORT: Segfault at /opt/onnxruntime/lib.so")), true);
    const failed = await store.getAuditInternal(audit.id);
    assert.equal(failed?.error?.code, "engine_failure");
    assert.equal(failed?.error?.status, 500);
    assert.doesNotMatch(JSON.stringify(failed?.error), /Segfault|\/opt\//);
    assert.equal(logged[0]?.level, "error");
    assert.match(String((logged[0]?.fields.err as Error).message), /Segfault/);
  });

  it("reports progress with an ETA from the chosen basis, and refuses it once the audit is not running", async () => {
    const { audit } = await create();
    const started = await audits.start(audit.id);
    const byStage = audits.progressReporter(audit.id, { from: "stage" });
    assert.equal(await byStage({ stage: "measuring", done: 10, total: 110 }), true);
    clock += 10_000;
    assert.equal(await byStage({ stage: "measuring", done: 20, total: 110 }), true);
    assert.equal((await store.getAuditInternal(audit.id))?.progress?.etaSeconds, 90, "10 points in 10 s since the stage began, 90 left");
    const byAudit = audits.progressReporter(audit.id, { from: "audit", startedAt: started!.startedAt });
    assert.equal(await byAudit({ stage: "measuring", done: 20, total: 110 }), true);
    assert.equal((await store.getAuditInternal(audit.id))?.progress?.etaSeconds, 45, "20 points in 10 s since the audit began");
    assert.equal(await audits.cancel(audit.id, ["running"]), true);
    const events = (await store.readEvents(audit.id, 0)).length;
    assert.equal(await byStage({ stage: "measuring", done: 30, total: 110 }), false, "a cancelled audit takes no progress");
    assert.equal((await store.readEvents(audit.id, 0)).length, events, "and no progress event");
  });

  it("recovers an interrupted audit: requeued with one crash, then failed with crash_loop at the limit", async () => {
    const { audit } = await create();
    const first = await audits.start(audit.id);
    assert.equal(await audits.recoverInterrupted(first!, 2), "requeued");
    const second = await audits.start(audit.id);
    assert.deepEqual([second?.attempt, second?.crashes], [2, 1]);
    assert.equal(await audits.recoverInterrupted(second!, 2), "failed");
    const failed = await store.getAuditInternal(audit.id);
    assert.deepEqual([failed?.state, failed?.crashes, failed?.error?.code], ["failed", 2, "crash_loop"]);
    assert.equal(await audits.recoverInterrupted(second!, 2), "moved", "an audit no longer running is left alone");
  });
});
