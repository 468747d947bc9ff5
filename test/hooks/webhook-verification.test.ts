/** Registry webhook verification: MLflow's HMAC signature, timestamp and replay checks; Hugging Face's secret. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { MemoryDeliveryLedger, huggingFaceUpdatedShas, mlflowSignature, verifyHuggingFaceWebhook, verifyMlflowWebhook } from "../../src/hooks/webhook-verification.ts";

const SECRET = "mlflow-webhook-secret";
const BODY = JSON.stringify({ entity: "model_version", action: "created", timestamp: "2026-12-03T11:00:00Z", data: { name: "encoder", version: "4" } });
const NOW = 1_796_300_000_000;

function headers(values: Record<string, string>): Headers {
  return new Headers(values);
}

function signed(deliveryId: string, ts: number, body = BODY, secret = SECRET): Headers {
  return headers({ "x-mlflow-delivery-id": deliveryId, "x-mlflow-timestamp": String(ts), "x-mlflow-signature": mlflowSignature(secret, deliveryId, String(ts), body) });
}

const refused = (pattern: RegExp) => (e: unknown) => e instanceof SslmemError && e.code === "unauthorized" && pattern.test(e.message);

describe("MLflow webhook verification", () => {
  it("signs v1,<base64 HMAC-SHA256 of id.timestamp.body> (hand-computed)", () => {
    const expected = createHmac("sha256", SECRET).update(`d-1.1796300000.${BODY}`).digest("base64");
    assert.equal(mlflowSignature(SECRET, "d-1", "1796300000", BODY), `v1,${expected}`);
  });

  it("accepts a fresh, correctly signed delivery once; a replay, a forgery and a stale one are refused", () => {
    const ledger = new MemoryDeliveryLedger(600_000);
    const ts = NOW / 1000;
    assert.deepEqual(verifyMlflowWebhook(signed("d-1", ts), BODY, { secret: SECRET, ledger, nowMs: NOW }), { deliveryId: "d-1" });
    assert.throws(() => verifyMlflowWebhook(signed("d-1", ts), BODY, { secret: SECRET, ledger, nowMs: NOW }), refused(/replay/));
    assert.throws(() => verifyMlflowWebhook(signed("d-2", ts, BODY, "wrong"), BODY, { secret: SECRET, ledger, nowMs: NOW }), refused(/signature/));
    assert.throws(() => verifyMlflowWebhook(signed("d-3", ts), BODY.replace("4", "5"), { secret: SECRET, ledger, nowMs: NOW }), refused(/signature/));
    assert.throws(() => verifyMlflowWebhook(signed("d-4", ts - 301), BODY, { secret: SECRET, ledger, nowMs: NOW }), refused(/stale/));
    assert.throws(() => verifyMlflowWebhook(headers({}), BODY, { secret: SECRET, ledger, nowMs: NOW }), refused(/required/));
    // A forged delivery id is not recorded: the genuine one still gets through.
    assert.ok(verifyMlflowWebhook(signed("d-2", ts), BODY, { secret: SECRET, ledger, nowMs: NOW }));
  });

  it("accepts any one of several signatures (secret rotation)", () => {
    const ledger = new MemoryDeliveryLedger(600_000);
    const h = signed("d-9", NOW / 1000);
    h.set("x-mlflow-signature", `${mlflowSignature("old", "d-9", String(NOW / 1000), BODY)} ${h.get("x-mlflow-signature")}`);
    assert.ok(verifyMlflowWebhook(h, BODY, { secret: SECRET, ledger, nowMs: NOW }));
  });
});

describe("Hugging Face webhook verification", () => {
  it("checks X-Webhook-Secret and lists the updated commits of a repo.content event", () => {
    verifyHuggingFaceWebhook(headers({ "x-webhook-secret": "hf-secret" }), { secret: "hf-secret" });
    assert.throws(() => verifyHuggingFaceWebhook(headers({ "x-webhook-secret": "hf-secreT" }), { secret: "hf-secret" }), refused(/X-Webhook-Secret/));
    assert.throws(() => verifyHuggingFaceWebhook(headers({}), { secret: "hf-secret" }), refused(/X-Webhook-Secret/));
    const sha = "b".repeat(40);
    const payload = { event: { action: "update", scope: "repo.content" }, repo: { type: "model", name: "acme/enc" }, updatedRefs: [{ ref: "refs/heads/main", oldSha: "a".repeat(40), newSha: sha }, { ref: "refs/tags/old", oldSha: sha, newSha: null }] };
    assert.deepEqual(huggingFaceUpdatedShas(payload), [{ repo: "acme/enc", ref: "refs/heads/main", sha }]);
    assert.deepEqual(huggingFaceUpdatedShas({ ...payload, event: { action: "update", scope: "repo.config" } }), []);
  });
});
