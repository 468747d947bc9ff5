/**
 * Signed completion callbacks end to end: an audit with `callbackUrl` on the real engine, a
 * receiver on 127.0.0.1 that verifies the Standard Webhooks signature with the `standardwebhooks`
 * library (as a tenant's receiver would), a first delivery answered 500 and retried from the outbox, and the
 * refusals at submission (no secret for the tenant, a host off the allowlist).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { callbackSender } from "../../src/callbacks/completion-callback.ts";
import { loadConfig } from "../../src/config.ts";
import type { Delivery as OutboxDelivery } from "../../src/store/outbox-types.ts";
import type { AuditRecord } from "../../src/store/types.ts";
import { readFileSync } from "node:fs";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { startEngineServer, uploadAuditInputs, type EngineServer } from "../helpers/engine-server.ts";
import { localServer, type LocalServer } from "../helpers/sources.ts";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

describe("completion callbacks", () => {
  let receiver: LocalServer;
  let server: EngineServer;
  const deliveries: Delivery[] = [];
  let answers: number[] = [];
  let inputs: { target: string; reference: string; candidates: string };

  before(async () => {
    receiver = await localServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      deliveries.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 204).end();
    });
    server = await startEngineServer({
      config: { sources: { allow: [receiver.host] }, callbacks: { secrets: { alice: SECRET } }, outbox: { pollMs: 20, backoffMs: 20 } },
    });
    const work = tempDir();
    const enc = writeTinyEncoderPair(work);
    inputs = await uploadAuditInputs(server.alice, {
      target: enc.targetBytes,
      reference: enc.referenceBytes,
      candidates: readFileSync(writeRandomNpy(work, "c.npy", 4, 16, 16, 1)),
    });
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("POSTs the final state signed with the tenant's secret, retrying after a 500 with the same webhook-id", async () => {
    deliveries.length = 0;
    answers = [500, 200];
    const submitted = await server.alice.submit({ ...inputs, config: { views: 2 }, callbackUrl: `${receiver.url}/hooks/sslmem?token=abc` });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const done = await server.alice.waitFor(submitted.body.id);
    assert.equal(done.state, "succeeded");
    for (let i = 0; i < 200 && deliveries.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(deliveries.length, 2);
    const webhook = new Webhook(SECRET);
    for (const d of deliveries) {
      const payload = webhook.verify(d.body, d.headers as Record<string, string>) as { type: string; data: { id: string; state: string } };
      assert.equal(payload.type, "audit.succeeded");
      assert.equal(payload.data.id, done.id);
    }
    assert.equal(deliveries[0].headers["webhook-id"], deliveries[1].headers["webhook-id"], "a retry is the same message");
    assert.throws(() => new Webhook(`whsec_${randomBytes(24).toString("base64")}`).verify(deliveries[1].body, deliveries[1].headers as Record<string, string>));
    // Each attempt is a log line naming the host only (the URL's query held a token), and the
    // outcome is on the audit's outbox row.
    let attempts: Record<string, unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      attempts = server.logs
        .map((l) => JSON.parse(l) as { auditId?: string; kind?: string; attempt?: number; outcome?: string; host?: string; status?: number })
        .filter((l) => l.auditId === done.id && l.kind === "callback")
        .map((l) => ({ attempt: l.attempt, outcome: l.outcome, host: l.host, status: l.status }));
      if (attempts.length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(attempts, [
      { attempt: 1, outcome: "retry", host: receiver.host, status: 500 },
      { attempt: 2, outcome: "delivered", host: receiver.host, status: 200 },
    ]);
    const rows = (await server.alice.json<{ items: { kind: string; state: string; attempts: number }[] }>(`/v1/audits/${done.id}/deliveries`)).body;
    assert.deepEqual(rows.items.map((d) => [d.kind, d.state, d.attempts]), [["callback", "delivered", 2]]);
    assert.equal((await server.bob.json(`/v1/audits/${done.id}/deliveries`)).status, 404, "another tenant sees nothing");
    const events = await server.store.readEvents(done.id, 0, 1000);
    assert.equal(events[events.length - 1].type, "state", "the terminal state stays the audit's last event");
    assert.doesNotMatch(server.logs.join(""), /token=abc/);
  });

  it("refuses at submission a callback the tenant cannot get (no secret) or that leaves the allowlist", async () => {
    const noSecret = await server.bob.submit({ ...inputs, callbackUrl: `${receiver.url}/x` });
    assert.equal(noSecret.status, 422);
    assert.deepEqual((noSecret.body.errors as { path: string }[]).map((e) => e.path), ["callbackUrl"]);
    const offList = await server.alice.submit({ ...inputs, callbackUrl: "https://hooks.example.org/x" });
    assert.equal(offList.status, 422);
    assert.equal(offList.body.code, "source_not_allowed");
  });

  it("sends one attempt per call: transient answers retry, a 4xx or a refused address fails for good", async () => {
    const config = loadConfig({}, { sources: { allow: [receiver.host, "169.254.169.254"] }, callbacks: { secrets: { alice: SECRET } } });
    const sender = callbackSender(config);
    const audit: AuditRecord = {
      id: "aud_01JH0000000000000000000000", tenant: "alice", kind: "sslmem", state: "succeeded", config: {}, inputs: { target: "", reference: "", candidates: "" },
      idempotencyKey: null, requestHash: null, createdAt: "", updatedAt: "", startedAt: null, finishedAt: null, progress: null,
      summary: { flagged: 0 }, error: null, report: null, attempt: 1, crashes: 0, inputsPurgedAt: null,
    };
    const delivery = (url: string, tenant = "alice"): OutboxDelivery => ({
      id: "dlv_1", key: "k", kind: "callback", tenant, auditId: audit.id, payload: { url },
      state: "pending", attempts: 0, nextAt: 0, lastError: null, createdAt: "", updatedAt: "",
    });
    answers = [503];
    assert.deepEqual(await sender.send(delivery(`${receiver.url}/h`), audit), { outcome: "retry", error: "status 503", record: { host: receiver.host, status: 503 } });
    answers = [410];
    assert.deepEqual(await sender.send(delivery(`${receiver.url}/h`), audit), { outcome: "failed", error: "status 410", record: { host: receiver.host, status: 410 } });
    assert.deepEqual(await sender.send(delivery("http://169.254.169.254/h"), audit), { outcome: "failed", error: "source_not_allowed", record: { host: "169.254.169.254" } });
    assert.deepEqual(await sender.send(delivery(`${receiver.url}/h`, "bob"), audit), { outcome: "failed", error: "the tenant has no callback secret any more", record: {} });
  });
});
