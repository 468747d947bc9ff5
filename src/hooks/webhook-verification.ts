/**
 * Verifying registry webhooks before anything acts on them (the receivers of issue 8 part 2 call
 * these; the routes and watches are not built yet):
 * - MLflow: `X-MLflow-Signature: v1,<base64>` = HMAC-SHA256(secret, "<delivery id>.<timestamp>.<raw body>"),
 *   with `X-MLflow-Delivery-Id` and `X-MLflow-Timestamp` (unix seconds); a timestamp outside the
 *   tolerance is stale, a delivery id seen before is a replay.
 * - Hugging Face: `X-Webhook-Secret` equals the configured secret, compared in constant time.
 * Every refusal is `unauthorized` (401) and says which check failed, never what was expected.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { SslmemError } from "../core/errors.ts";

/** Delivery ids already accepted, kept for the tolerance window (replays inside it are refused). */
export interface DeliveryLedger {
  /** false when the id was already recorded. */
  record(deliveryId: string, nowMs: number): boolean;
}

/** In-memory ledger of one process; a shared one (several API replicas) belongs in the store. */
export class MemoryDeliveryLedger implements DeliveryLedger {
  readonly #seen = new Map<string, number>();
  constructor(private readonly keepMs: number) {}

  record(deliveryId: string, nowMs: number): boolean {
    for (const [id, at] of this.#seen) if (nowMs - at > this.keepMs) this.#seen.delete(id);
    if (this.#seen.has(deliveryId)) return false;
    this.#seen.set(deliveryId, nowMs);
    return true;
  }
}

function refuse(why: string): SslmemError {
  return new SslmemError("unauthorized", `webhook refused: ${why}`);
}

/** Equal-length digests compared in constant time (hashing first hides the expected length too). */
function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

export function mlflowSignature(secret: string, deliveryId: string, timestamp: string, body: string): string {
  return `v1,${createHmac("sha256", secret).update(`${deliveryId}.${timestamp}.${body}`).digest("base64")}`;
}

export function verifyMlflowWebhook(
  headers: { get(name: string): string | null },
  body: string,
  o: { secret: string; ledger: DeliveryLedger; nowMs: number; toleranceMs?: number },
): { deliveryId: string } {
  const signature = headers.get("x-mlflow-signature");
  const deliveryId = headers.get("x-mlflow-delivery-id");
  const timestamp = headers.get("x-mlflow-timestamp");
  if (!signature || !deliveryId || !timestamp) throw refuse("X-MLflow-Signature, X-MLflow-Delivery-Id and X-MLflow-Timestamp are required");
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(o.nowMs - Number(timestamp) * 1000) > (o.toleranceMs ?? 300_000)) throw refuse("the timestamp is stale or invalid");
  // The header may carry several signatures (secret rotation): any one matching is enough.
  const expected = mlflowSignature(o.secret, deliveryId, timestamp, body);
  if (!signature.split(/\s+/).some((s) => constantTimeEqual(s, expected))) throw refuse("the signature does not match");
  if (!o.ledger.record(deliveryId, o.nowMs)) throw refuse("this delivery id was already received (replay)");
  return { deliveryId };
}

export function verifyHuggingFaceWebhook(headers: { get(name: string): string | null }, o: { secret: string }): void {
  const given = headers.get("x-webhook-secret");
  if (!given || !constantTimeEqual(given, o.secret)) throw refuse("X-Webhook-Secret does not match");
}

/** The commits a Hugging Face `repo.content` event points at (one audit each). */
export function huggingFaceUpdatedShas(payload: unknown): { repo: string; ref: string; sha: string }[] {
  const p = payload as { event?: { scope?: string }; repo?: { name?: string }; updatedRefs?: { ref?: string; newSha?: string | null }[] };
  if (p?.event?.scope !== "repo.content" || typeof p.repo?.name !== "string" || !Array.isArray(p.updatedRefs)) return [];
  return p.updatedRefs
    .filter((r) => typeof r.ref === "string" && typeof r.newSha === "string" && /^[0-9a-f]{40}$/.test(r.newSha))
    .map((r) => ({ repo: p.repo!.name!, ref: r.ref!, sha: r.newSha! }));
}
