/**
 * Bearer tokens: "sslm_" + 32 random bytes in base64url. Tokens carry 256 bits of entropy, so a
 * plain SHA-256 at rest is enough (no slow KDF needed: nothing to brute-force).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const TOKEN_PREFIX = "sslm_";
const TOKEN_PATTERN = /^sslm_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Shape check before any lookup; says nothing about validity. */
export function looksLikeToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Constant-time comparison of two token hashes. */
export function tokenHashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
