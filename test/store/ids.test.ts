import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createIdGenerator, isId } from "../../src/store/ids.ts";
import { generateToken, hashToken, looksLikeToken, tokenHashesEqual } from "../../src/store/tokens.ts";

describe("sortable ids", () => {
  it("encodes milliseconds as 10 Crockford base32 characters", () => {
    // 32 = "10" in base 32; 1234567 = 1·32^4 + 5·32^3 + 21·32^2 + 20·32 + 7 → 1,5,N,M,7.
    assert.equal(createIdGenerator(() => 0)("aud_").slice(4, 14), "0000000000");
    assert.equal(createIdGenerator(() => 32)("aud_").slice(4, 14), "0000000010");
    assert.equal(createIdGenerator(() => 1234567)("aud_").slice(4, 14), "0000015NM7");
  });

  it("sorts by time, and strictly increases when the clock stalls or steps back", () => {
    let now = 1_700_000_000_000;
    const next = createIdGenerator(() => now);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(next("aud_")); // same millisecond
    now -= 5000; // clock stepped back
    for (let i = 0; i < 5; i++) ids.push(next("aud_"));
    now += 60_000;
    ids.push(next("aud_"));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.ok(isId("aud_", id), id);
  });

  it("recognizes only well-formed ids of the prefix", () => {
    const id = createIdGenerator()("aud_");
    assert.equal(isId("aud_", id), true);
    assert.equal(isId("tok_", id), false);
    assert.equal(isId("aud_", id.toLowerCase()), false);
    assert.equal(isId("aud_", id + "0"), false);
    assert.equal(isId("aud_", id.slice(0, -1) + "U"), false); // U is not in Crockford's alphabet
  });
});

describe("tokens", () => {
  it("are sslm_ + 32 random bytes, and hash deterministically", () => {
    const a = generateToken();
    const b = generateToken();
    assert.ok(looksLikeToken(a), "well-formed");
    assert.notEqual(a, b);
    assert.equal(Buffer.from(a.slice(5), "base64url").length, 32);
    assert.ok(tokenHashesEqual(hashToken(a), hashToken(a)), "same token, same hash");
    assert.ok(!tokenHashesEqual(hashToken(a), hashToken(b)), "different tokens");
    assert.ok(!tokenHashesEqual(hashToken(a), hashToken(a).subarray(1)), "different lengths");
    // sha256("abc"), from FIPS 180-2.
    assert.equal(hashToken("abc").toString("hex"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(looksLikeToken("sslm_short"), false);
  });
});
