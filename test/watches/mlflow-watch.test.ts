/**
 * A watch end to end with the real engine and a local MLflow API: register the watch, deliver a
 * signed MLflow webhook (model_version.created), see the audit run and its verdict written back
 * through the outbox (model-version tags, the alias moved on pass). Forged, stale and replayed
 * deliveries are 401 and start nothing; a second delivery for an audited version starts nothing;
 * a version claimed by a process that died before creating its audit is audited after the lease.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { mlflowWebhookDelivery, startMlflowServer, type MlflowState } from "../helpers/mlflow-server.ts";
import { pollUntil } from "../helpers/poll.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { LocalServer } from "../helpers/sources.ts";

interface CreatedWatch {
  id: string;
  hook: string;
  secret: string;
}

describe("MLflow watch", () => {
  let mlflow: LocalServer;
  let server: EngineServer;
  let watch: CreatedWatch;
  const state: MlflowState = { models: {}, artifacts: new Map() };
  let spec: Record<string, unknown>;

  before(async () => {
    const work = tempDir();
    const enc = writeTinyEncoderPair(work);
    state.models.encoder = { versions: [{ version: "4", source: "mlflow-artifacts:/0/r4/artifacts/model" }, { version: "5", source: "mlflow-artifacts:/0/r5/artifacts/model" }], aliases: {} };
    state.artifacts.set("0/r4/artifacts/model/model.onnx", enc.targetBytes);
    state.artifacts.set("0/r5/artifacts/model/model.onnx", enc.targetBytes);
    mlflow = await startMlflowServer(state);
    server = await startEngineServer({
      config: { sources: { mlflowUri: mlflow.url }, outbox: { pollMs: 20, backoffMs: 20 }, watches: { publicUrl: "https://sslmem.example.org" } },
    });
    const reference = await server.alice.putBlob(enc.referenceBytes);
    const candidates = await server.alice.putBlob(readFileSync(writeRandomNpy(work, "c.npy", 4, 16, 16, 1)));
    spec = { subject: { kind: "mlflow", model: "encoder", passAlias: "audited" }, reference, candidates, config: { views: 2 }, gate: { failOnFlagged: 4 } };
  });
  after(async () => {
    await server?.close();
    await mlflow?.close();
  });

  const deliver = (d: { headers: Record<string, string>; body: string }) =>
    server.anonymous.json<{ audits: string[]; ignored: string[] }>(watch.hook, { method: "POST", headers: d.headers, body: d.body });
  const created = (version: string) => ({ entity: "model_version", action: "created", data: { name: "encoder", version, source: "mlflow-artifacts:/0/r/artifacts/model", run_id: "r", tags: {}, description: null } });
  const auditCount = async () => (await server.alice.json<{ items: unknown[] }>("/v1/audits?limit=100")).body.items.length;

  it("registers a watch (tenant-scoped; the secret shown once)", async () => {
    const res = await server.alice.json<CreatedWatch & { kind: string }>("/v1/watches", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(spec) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    watch = res.body;
    assert.equal(res.body.kind, "mlflow");
    assert.equal(watch.hook, `/v1/hooks/mlflow/${watch.id}`);
    assert.ok(watch.secret.length >= 32);
    const listed = await server.alice.json<{ items: Record<string, unknown>[] }>("/v1/watches");
    assert.deepEqual(listed.body.items.map((w) => w.id), [watch.id]);
    assert.ok(!JSON.stringify(listed.body).includes(watch.secret), "the secret is never listed");
    assert.equal((await server.bob.json(`/v1/watches/${watch.id}`)).status, 404);
    assert.deepEqual((await server.bob.json<{ items: unknown[] }>("/v1/watches")).body.items, []);
    const bad = await server.alice.json<{ code: string }>("/v1/watches", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...spec, subject: { kind: "mlflow" } }) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "validation_failed");
  });

  it("refuses forged, stale and unknown-watch deliveries with 401, starting nothing", async () => {
    const forged = mlflowWebhookDelivery("not-the-secret", created("4"));
    assert.equal((await deliver(forged)).status, 401);
    const stale = mlflowWebhookDelivery(watch.secret, created("4"), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal((await deliver(stale)).status, 401);
    const tampered = mlflowWebhookDelivery(watch.secret, created("4"));
    assert.equal((await deliver({ headers: tampered.headers, body: tampered.body.replace('"4"', '"5"') })).status, 401);
    const unsigned = mlflowWebhookDelivery(watch.secret, created("4"));
    delete unsigned.headers["x-mlflow-signature"];
    assert.equal((await deliver(unsigned)).status, 401);
    const other = await server.anonymous.json(`/v1/hooks/mlflow/wch_01JH0000000000000000000000`, { method: "POST", ...mlflowWebhookDelivery(watch.secret, created("4")) });
    assert.equal(other.status, 401);
    assert.equal(await auditCount(), 0);
  });

  it("audits the version of a signed delivery once and writes the verdict back (tags, alias on pass)", async () => {
    const first = mlflowWebhookDelivery(watch.secret, created("4"));
    const res = await deliver(first);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.audits.length, 1);
    const auditId = res.body.audits[0];
    // A replay of the same delivery is refused; a new delivery of the same version starts nothing.
    assert.equal((await deliver(first)).status, 401);
    const again = await deliver(mlflowWebhookDelivery(watch.secret, { entity: "model_version_alias", action: "created", data: { name: "encoder", alias: "candidate", version: "4" } }));
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.audits, []);
    assert.match(again.body.ignored[0], /already audited/);
    assert.equal(await auditCount(), 1);

    const done = await server.alice.waitFor(auditId);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const flagged = (done.summary as { flagged: number }).flagged;
    const v4 = state.models.encoder.versions[0];
    const deliveries = () => server.alice.json<{ items: { kind: string; state: string; attempts: number }[] }>(`/v1/audits/${auditId}/deliveries`);
    await pollUntil(async () => (await deliveries()).body.items[0]?.state === "delivered", { what: "the verdict write-back", timeoutMs: 30_000 });
    assert.deepEqual(v4.tags, {
      "sslmem.verdict": flagged > 4 ? "fail" : "pass",
      "sslmem.flagged": String(flagged),
      "sslmem.audit": auditId,
      "sslmem.report": `https://sslmem.example.org/v1/audits/${auditId}/report`,
    });
    assert.equal(state.models.encoder.aliases.audited, flagged > 4 ? undefined : "4");
    assert.deepEqual((await deliveries()).body.items.map((d) => [d.kind, d.state, d.attempts]), [["mlflow-verdict", "delivered", 1]]);
  });

  it("audits a version whose claimant died before creating its audit, once the claim's lease has ended", async () => {
    // A second process on the same database claimed version 5 two hours ago and died: its claim
    // is pending (no audit settled it), with a lease long past.
    const dead = await SqliteStore.open({ path: join(server.dir, "sslmem.db"), synchronous: "NORMAL", now: () => Date.now() - 2 * 3_600_000 });
    try {
      assert.equal(await dead.claimWatchTrigger(watch.id, "version:5", 60_000), true);
    } finally {
      await dead.close();
    }
    const res = await deliver(mlflowWebhookDelivery(watch.secret, created("5")));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.audits.length, 1);
    const again = await deliver(mlflowWebhookDelivery(watch.secret, created("5")));
    assert.deepEqual(again.body.audits, [], "settled with its audit: a new delivery starts nothing");
    assert.equal(await auditCount(), 2);
    assert.equal((await server.alice.waitFor(res.body.audits[0])).state, "succeeded");
  });

  it("ignores other events and other models; a deleted watch refuses deliveries", async () => {
    const tag = await deliver(mlflowWebhookDelivery(watch.secret, { entity: "model_version_tag", action: "set", data: { name: "encoder", version: "5", key: "k", value: "v" } }));
    assert.deepEqual([tag.status, tag.body.audits], [200, []]);
    const otherModel = await deliver(mlflowWebhookDelivery(watch.secret, { entity: "model_version", action: "created", data: { name: "other", version: "1" } }));
    assert.deepEqual([otherModel.status, otherModel.body.audits], [200, []]);
    assert.equal((await server.bob.json(`/v1/watches/${watch.id}`, { method: "DELETE" })).status, 404);
    assert.equal((await server.alice.json(`/v1/watches/${watch.id}`, { method: "DELETE" })).status, 204);
    assert.equal((await deliver(mlflowWebhookDelivery(watch.secret, created("5")))).status, 401);
    assert.equal(await auditCount(), 2);
  });
});
