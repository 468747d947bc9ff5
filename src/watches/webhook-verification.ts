/**
 * Authenticating registry webhooks, before anything is read from their payload.
 *
 * MLflow (OSS webhooks): `X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret, "<delivery id>.<timestamp>.<raw body>")>`,
 * `X-MLflow-Delivery-Id`, `X-MLflow-Timestamp` (Unix seconds). A timestamp outside the tolerance
 * is refused (stale or from the future), so a captured delivery cannot be replayed later; within
 * the tolerance the receiver refuses a delivery id it has seen (the watch's trigger table).
 *
 * Hugging Face: `X-Webhook-Secret` carries the secret itself; compared in constant time (both
 * sides hashed first, so the comparison does not leak the length either).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const MLFLOW_HEADERS = { signature: "x-mlflow-signature", deliveryId: "x-mlflow-delivery-id", timestamp: "x-mlflow-timestamp" } as const;
export const HF_SECRET_HEADER = "x-webhook-secret";

export type Verification = { ok: true } | { ok: false; reason: string };

export function mlflowSignature(secret: string, deliveryId: string, timestamp: string, body: string): string {
  return `v1,${createHmac("sha256", secret).update(`${deliveryId}.${timestamp}.${body}`).digest("base64")}`;
}

function sameBytes(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function verifyMlflowDelivery(
  secret: string,
  headers: { signature?: string; deliveryId?: string; timestamp?: string },
  body: string,
  o: { nowSeconds: number; toleranceSeconds: number },
): Verification {
  const { signature, deliveryId, timestamp } = headers;
  if (!signature || !deliveryId || !timestamp) return { ok: false, reason: "the X-MLflow-Signature, X-MLflow-Delivery-Id and X-MLflow-Timestamp headers are required" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "X-MLflow-Timestamp is not a Unix time in seconds" };
  // Checked before the timestamp: an unsigned caller learns nothing about the clock window.
  const expected = mlflowSignature(secret, deliveryId, timestamp, body);
  if (!signature.split(" ").some((candidate) => sameBytes(candidate, expected))) return { ok: false, reason: "the signature does not match" };
  if (Math.abs(o.nowSeconds - Number(timestamp)) > o.toleranceSeconds) return { ok: false, reason: "the delivery is stale (timestamp outside the tolerance)" };
  return { ok: true };
}

export function verifyHuggingFaceSecret(secret: string, given: string | undefined): Verification {
  if (given === undefined || !sameBytes(given, secret)) return { ok: false, reason: "X-Webhook-Secret does not match" };
  return { ok: true };
}
