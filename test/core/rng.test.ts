import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSslmemError } from "../../src/core/errors.ts";
import { fnv1a64, hex64, mulhilo32, philox4x32, viewStream } from "../../src/core/rng.ts";

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, "0")).join(" ");

/** Chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe("philox4x32-10", () => {
  it("matches the Random123 known-answer vectors (tests/kat_vectors)", () => {
    // philox4x32 10 <counter ×4> <key ×2> <expected ×4>, verbatim from Random123.
    assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    assert.equal(
      hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
      "408f276d 41c83b0e a20bc7c6 6d5451fd",
    );
    assert.equal(
      hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
      "d16cfe09 94fdcceb 5001e420 24126ea1",
    );
  });

  it("mulhilo32 equals the exact 64-bit product", () => {
    const values = [0, 1, 0xffff, 0x10000, 0xd2511f53, 0xcd9e8d57, 0xffffffff, 0x80000000, 0x12345678, 0x9abcdef0];
    for (const a of values) {
      for (const b of values) {
        const p = BigInt(a) * BigInt(b);
        assert.deepEqual(mulhilo32(a, b), [Number(p >> 32n), Number(p & 0xffffffffn)], `${a} * ${b}`);
      }
    }
  });
});

describe("fnv1a64", () => {
  it("matches the published FNV-1a 64 test vectors", () => {
    assert.equal(hex64(fnv1a64("")), "cbf29ce484222325");
    assert.equal(hex64(fnv1a64("a")), "af63dc4c8601ec8c");
    assert.equal(hex64(fnv1a64("foobar")), "85944171f73967e8");
  });

  it("equals a BigInt implementation on UTF-8 bytes of non-ASCII ids", () => {
    const reference = (s: string) => {
      let h = 0xcbf29ce484222325n;
      for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
      return h.toString(16).padStart(16, "0");
    };
    for (const id of ["images/cat_001.png", "é漢😀", "train/n01440764/x.JPEG", "0"]) assert.equal(hex64(fnv1a64(id)), reference(id));
  });
});

describe("viewStream", () => {
  it("uses the documented layout: key = FNV-1a-64(id), counter = [block, view, seed, tag]", () => {
    const key = fnv1a64("img-7");
    const words = philox4x32([0, 3, 42, 0], key);
    const expected = ((words[0] >>> 5) * 67108864 + (words[1] >>> 6)) / 2 ** 53;
    assert.equal(viewStream(42, "img-7", 3).uniform(), expected);
  });

  it("reproduces pinned values (computed once with this implementation; the Philox block is pinned above)", () => {
    const s = viewStream(0, "a", 0);
    assert.deepEqual([s.uniform(), s.uniform(), s.uniform()], [0.7592842417994926, 0.5117168190658979, 0.05913675903558202]);
  });

  it("is deterministic and differs across seed, point id, view index and tag", () => {
    const draw = (s: ReturnType<typeof viewStream>) => Array.from({ length: 8 }, () => s.uniform());
    const base = draw(viewStream(5, "p", 2));
    assert.deepEqual(draw(viewStream(5, "p", 2)), base);
    for (const other of [viewStream(6, "p", 2), viewStream(5, "q", 2), viewStream(5, "p", 3), viewStream(5, "p", 2).substream(1)]) {
      const o = draw(other);
      assert.ok(o.every((v, i) => v !== base[i]));
    }
    // a substream depends only on the key and its tag, not on draws already made from the parent
    const parent = viewStream(5, "p", 2);
    parent.uniform();
    assert.deepEqual(draw(parent.substream(9)), draw(viewStream(5, "p", 2).substream(9)));
  });

  it("gives uniform values in [0, 1) (chi-square, 20 bins, fixed seed)", () => {
    const s = viewStream(123, "uniformity", 0);
    const counts = new Array(20).fill(0);
    for (let i = 0; i < 20000; i++) {
      const u = s.uniform();
      assert.ok(u >= 0 && u < 1);
      counts[Math.floor(u * 20)]++;
    }
    assert.ok(chiSquare(counts) < 43.82, `chi2 = ${chiSquare(counts)} (p = 0.001 critical value, 19 dof)`);
  });

  it("gives uncorrelated streams for neighbouring view indices", () => {
    const n = 4000;
    const a = viewStream(0, "x", 0);
    const b = viewStream(0, "x", 1);
    let sab = 0;
    let sa = 0;
    let sb = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      const x = a.uniform();
      const y = b.uniform();
      sab += x * y;
      sa += x;
      sb += y;
      saa += x * x;
      sbb += y * y;
    }
    const r = (sab - (sa * sb) / n) / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
    assert.ok(Math.abs(r) < 0.06, `correlation ${r}`); // 0.06 ≈ 3.8 standard errors at n = 4000
  });

  it("randint, bernoulli, uniformRange and permutation have the stated ranges and frequencies", () => {
    const s = viewStream(1, "dists", 0);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[s.randint(7)]++;
    assert.ok(chiSquare(counts) < 22.46, `randint chi2 ${chiSquare(counts)} (p = 0.001, 6 dof)`);
    let hits = 0;
    for (let i = 0; i < 10000; i++) hits += s.bernoulli(0.3) ? 1 : 0;
    assert.ok(Math.abs(hits / 10000 - 0.3) < 0.02);
    for (let i = 0; i < 100; i++) {
      assert.equal(s.bernoulli(0), false);
      assert.equal(s.bernoulli(1), true);
      const v = s.uniformRange(-2, 3);
      assert.ok(v >= -2 && v < 3);
    }
    const orders = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const p = s.permutation(3);
      assert.deepEqual([...p].sort(), [0, 1, 2]);
      orders.set(p.join(""), (orders.get(p.join("")) ?? 0) + 1);
    }
    assert.equal(orders.size, 6);
    assert.ok(chiSquare([...orders.values()]) < 20.52, "permutations are uniform (p = 0.001, 5 dof)");
  });

  it("rejects seeds and view indices outside uint32 with a stable error code", () => {
    for (const [seed, view] of [[-1, 0], [2 ** 32, 0], [0.5, 0], [0, -1]]) {
      assert.throws(() => viewStream(seed, "p", view), (e) => isSslmemError(e) && e.code === "invalid_config");
    }
  });
});
