/**
 * The outbox dispatcher on a real SQLite file and a real receiver on 127.0.0.1, with the
 * completion-callback sender: it waits (no attempt counted) while the audit runs, retries
 * transient failures with doubling pauses, gives a delivery up after the configured attempts,
 * keeps pending deliveries across a restart, and leaves a delivery claimed by a dead process
 * alone until its lease ends. The clock is injected (store and dispatcher share it).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, before, after, beforeEach, describe, it } from "node:test";
import pino from "pino";
import { AuditService } from "../../src/audits/audit-service.ts";
import { callbackSender, completionCallback } from "../../src/callbacks/completion-callback.ts";
import { loadConfig } from "../../src/config.ts";
import { OutboxDispatcher, backoffFor } from "../../src/outbox/dispatcher.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { localServer, type LocalServer } from "../helpers/sources.ts";
import { digestOf } from "../store/store-contract.ts";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789").toString("base64")}`;
const SETTINGS = { pollMs: 10, leaseMs: 60_000, attempts: 3, backoffMs: 1_000, maxBackoffMs: 1_500, waitMs: 500 };

describe("outbox dispatcher", () => {
  let receiver: LocalServer;
  let answers: number[] = [];
  let received = 0;
  let dir: string;
  let store: SqliteStore;
  const clock = { now: Date.UTC(2026, 0, 1) };
  const logger = pino({ level: "silent" });

  before(async () => {
    receiver = await localServer(async (req, res) => {
      for await (const _ of req);
      received++;
      res.writeHead(answers.shift() ?? 204).end();
    });
  });
  after(() => receiver.close());
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sslmem-outbox-"));
    store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL", now: () => clock.now });
    answers = [];
    received = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = () => loadConfig({}, { sources: { allow: [receiver.host] }, callbacks: { secrets: { alice: SECRET } } });
  const dispatcher = (s: SqliteStore = store) =>
    new OutboxDispatcher({ store: s, senders: { callback: callbackSender(config()) }, settings: SETTINGS, logger, now: () => clock.now });

  async function auditWithCallback(s: SqliteStore = store) {
    const inputs = { target: digestOf("t"), reference: digestOf("r"), candidates: digestOf("c") };
    for (const d of Object.values(inputs)) await s.recordBlob({ digest: d, size: 1, tenant: "alice" });
    const audits = new AuditService({ store: s, logger });
    const { audit } = await audits.create({ tenant: "alice", config: {}, inputs, deliveries: [completionCallback(`${receiver.url}/cb`)] });
    return { audits, id: audit.id };
  }
  const finish = async (audits: AuditService, id: string) => {
    await audits.start(id);
    assert.equal(await audits.succeed(id, { summary: { flagged: 0 }, report: {} }), true);
  };

  it("waits without an attempt while the audit runs, then delivers once", async () => {
    const { audits, id } = await auditWithCallback();
    const d = dispatcher();
    await d.runOnce();
    assert.equal(received, 0);
    assert.deepEqual((await store.deliveriesOfAudit(id)).map((r) => [r.state, r.attempts, r.nextAt - clock.now]), [["pending", 0, SETTINGS.waitMs]]);
    await finish(audits, id);
    await d.runOnce();
    assert.equal(received, 0, "not due before waitMs");
    clock.now += SETTINGS.waitMs;
    await d.runOnce();
    assert.equal(received, 1);
    assert.deepEqual((await store.deliveriesOfAudit(id)).map((r) => [r.state, r.attempts]), [["delivered", 1]]);
    clock.now += 10 * SETTINGS.maxBackoffMs;
    await d.runOnce();
    assert.equal(received, 1, "a delivered row is never sent again");
  });

  it("retries transient failures with doubling (capped) pauses and gives up after the configured attempts", async () => {
    const { audits, id } = await auditWithCallback();
    await finish(audits, id);
    const d = dispatcher();
    answers = [503, 429, 502];
    await d.runOnce();
    let [row] = await store.deliveriesOfAudit(id);
    assert.deepEqual([row.state, row.attempts, row.lastError, row.nextAt - clock.now], ["pending", 1, "status 503", backoffFor(1, SETTINGS)]);
    assert.equal(backoffFor(1, SETTINGS), 1_000);
    clock.now = row.nextAt;
    await d.runOnce();
    [row] = await store.deliveriesOfAudit(id);
    assert.deepEqual([row.state, row.attempts, row.lastError, row.nextAt - clock.now], ["pending", 2, "status 429", 1_500], "2 000 ms capped at maxBackoffMs");
    clock.now = row.nextAt;
    await d.runOnce();
    [row] = await store.deliveriesOfAudit(id);
    assert.deepEqual([row.state, row.attempts, row.lastError], ["dead", 3, "status 502"]);
    assert.equal(received, 3);
  });

  it("a permanent refusal (4xx) is dead at once", async () => {
    const { audits, id } = await auditWithCallback();
    await finish(audits, id);
    answers = [410];
    await dispatcher().runOnce();
    const [row] = await store.deliveriesOfAudit(id);
    assert.deepEqual([row.state, row.attempts, row.lastError], ["dead", 1, "status 410"]);
  });

  it("keeps a pending delivery across a restart, and leaves a dead claimant's lease alone until it ends", async () => {
    const { audits, id } = await auditWithCallback();
    await finish(audits, id);
    // A process claims the row and dies before settling it.
    assert.equal((await store.claimDeliveries(SETTINGS.leaseMs, 10)).length, 1);
    await store.close();
    store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL", now: () => clock.now });
    const d = dispatcher();
    await d.runOnce();
    assert.equal(received, 0, "the lease still holds");
    clock.now += SETTINGS.leaseMs;
    await d.runOnce();
    assert.equal(received, 1);
    assert.deepEqual((await store.deliveriesOfAudit(id)).map((r) => [r.state, r.attempts]), [["delivered", 1]]);
  });

  it("drops the delivery of a deleted audit", async () => {
    const { id } = await auditWithCallback();
    assert.equal(await store.deleteAudit("alice", id), true);
    await dispatcher().runOnce();
    assert.equal(received, 0);
    assert.deepEqual((await store.deliveriesOfAudit(id)).map((r) => [r.state, r.lastError]), [["dead", "the audit was deleted"]]);
  });
});
