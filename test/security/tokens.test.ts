/**
 * Bearer tokens: compared in constant time on equal-length hashes, only SHA-256 hashes at rest,
 * and never written to the log — neither on success nor on any kind of failed authentication.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { hashToken, looksLikeToken, tokenHashesEqual } from "../../src/store/tokens.ts";
import { startHarness } from "../http/harness.ts";

const SRC = new URL("../../src/", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("token comparison", () => {
  it("compares SHA-256 hashes of equal length with timingSafeEqual; other lengths are unequal without throwing", () => {
    const a = hashToken("sslm_" + "a".repeat(43));
    assert.equal(a.length, 32);
    assert.equal(tokenHashesEqual(a, Buffer.from(a)), true);
    const b = Buffer.from(a);
    b[31] ^= 1;
    assert.equal(tokenHashesEqual(a, b), false);
    assert.equal(tokenHashesEqual(a, a.subarray(0, 31)), false, "a short value is unequal, not an exception");
    const tokens = readFileSync(join(SRC, "store/tokens.ts"), "utf8");
    assert.match(tokens, /timingSafeEqual\(a, b\)/);
    assert.match(tokens, /a\.length === b\.length && timingSafeEqual/);
  });

  it("every store authenticates by the token's hash and confirms it with tokenHashesEqual; no code compares tokens with ===", () => {
    const stores = sourceFiles(join(SRC, "store")).filter((f) => /async authenticate\(/.test(readFileSync(f, "utf8")));
    assert.ok(stores.length >= 1, "found the stores' authenticate()");
    for (const file of stores) {
      const body = readFileSync(file, "utf8").split(/async authenticate\(/)[1].split(/\n  async /)[0];
      assert.match(body, /hashToken\(token\)/, `${file} hashes the presented token`);
      assert.match(body, /tokenHashesEqual\(row\.hash, hash\)/, `${file} confirms in constant time`);
      assert.doesNotMatch(body, /token\s*===|===\s*token|\.equals\(/, `${file} has no early-exit comparison`);
    }
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /\b(token|hash|bearer)\w*\s*[!=]==\s*\w*(token|hash)\b/i, `${file} compares a secret with ===`);
    }
  });

  it("looks tokens up only when they have the token shape", () => {
    assert.equal(looksLikeToken("sslm_" + "A".repeat(43)), true);
    for (const bad of ["", "sslm_", "sslm_" + "A".repeat(42), "sslm_" + "A".repeat(44), "x".repeat(48), "sslm_" + "A".repeat(42) + "\n"]) {
      assert.equal(looksLikeToken(bad), false, JSON.stringify(bad));
    }
  });
});

describe("tokens at rest and in logs", () => {
  it("stores only the SHA-256 of a token: the plaintext is nowhere in the SQLite files", async () => {
    const h = await startHarness();
    try {
      const extra = await h.store.createToken("carol");
      await h.request("/v1/audits", { token: extra.token }); // used at least once
      const files = readdirSync(h.dir).filter((f) => f.startsWith("sslmem.db"));
      const bytes = Buffer.concat(files.map((f) => readFileSync(join(h.dir, f))));
      for (const token of [h.tokens.alice, h.tokens.bob, extra.token]) {
        assert.equal(bytes.includes(token), false, "plaintext token in the database");
        assert.equal(bytes.includes(token.slice(5)), false, "token body in the database");
        assert.equal(bytes.includes(Buffer.from(token, "utf8").toString("base64")), false);
        assert.equal(bytes.includes(createHash("sha256").update(token).digest()), true, "its hash is what is stored (the search sees the file)");
      }
    } finally {
      await h.close();
    }
  });

  it("never logs a token: successful, unknown, malformed, revoked, non-Bearer, in the query, or on a 5xx", async () => {
    const h = await startHarness();
    try {
      const revoked = await h.store.createToken("alice");
      await h.store.revokeToken(revoked.id);
      const unknown = "sslm_" + "Z".repeat(43);
      const malformed = "sslm_not-a-token-" + "q".repeat(20);
      const attempts: [string, Record<string, string>][] = [
        ["/v1/audits", { authorization: `Bearer ${h.tokens.alice}` }],
        ["/v1/audits/aud_00000000000000000000000000", { authorization: `Bearer ${h.tokens.bob}` }],
        ["/v1/audits", { authorization: `Bearer ${unknown}` }],
        ["/v1/audits", { authorization: `Bearer ${malformed}` }],
        ["/v1/audits", { authorization: `Bearer ${revoked.token}` }],
        ["/v1/audits", { authorization: `Basic ${Buffer.from(`alice:${h.tokens.alice}`).toString("base64")}` }],
        ["/v1/audits", { authorization: `Token ${h.tokens.alice}` }],
        [`/v1/audits?access_token=${h.tokens.alice}`, {}],
        [`/v1/nope/${h.tokens.alice}`, { authorization: `Bearer ${h.tokens.alice}` }],
        ["/livez", { authorization: `Bearer ${h.tokens.alice}`, "x-request-id": h.tokens.alice }],
        ["/v1/audits", { authorization: `Bearer ${h.tokens.alice}`, "x-request-id": h.tokens.bob }],
      ];
      for (const [path, headers] of attempts) {
        const res = await fetch(h.url + path, { headers });
        await res.arrayBuffer();
      }
      // A 5xx (store failure) of an authenticated request: its log line carries the error.
      const original = h.store.listAudits.bind(h.store);
      h.store.listAudits = async () => {
        throw new Error("boom");
      };
      const failed = await fetch(h.url + "/v1/audits", { headers: { authorization: `Bearer ${h.tokens.alice}` } });
      assert.equal(failed.status, 500);
      h.store.listAudits = original;

      const logs = h.logs.join("");
      assert.ok(logs.includes('"status":500') && logs.includes('"status":401'), "the requests were logged");
      for (const secret of [h.tokens.alice, h.tokens.bob, revoked.token, unknown, malformed]) {
        assert.equal(logs.includes(secret), false, "a token reached the log");
        assert.equal(logs.includes(secret.slice(5, 30)), false, "part of a token reached the log");
      }
      assert.equal(logs.includes(Buffer.from(`alice:${h.tokens.alice}`).toString("base64")), false);
      assert.doesNotMatch(logs, /authorization/i, "no header dump in the log");
    } finally {
      await h.close();
    }
  });
});
