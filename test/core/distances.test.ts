import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cosineDistance, distance, l2Distance, normalizeRows } from "../../src/core/distances.ts";
import { SslmemError } from "../../src/core/errors.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);
const throwsCode = (fn: () => unknown, code: string) =>
  assert.throws(fn, (e: unknown) => e instanceof SslmemError && e.code === code);

describe("l2Distance", () => {
  it("is the distance of the normalized vectors", () => {
    // n([3,4]) = (0.6, 0.8), n([4,3]) = (0.8, 0.6): difference (−0.2, 0.2), norm √0.08.
    close(l2Distance([3, 4], [4, 3]), Math.sqrt(0.08));
    close(l2Distance([1, 0], [0, 2]), Math.SQRT2);
    close(l2Distance([1, 0], [-3, 0]), 2);
    close(l2Distance([1, 0], [5, 0]), 0);
  });

  it("keeps full precision for nearly aligned vectors", () => {
    // Angle 2·atan(1e-6): exact distance 2·sin(atan(1e-6)) = 2e-6/√(1 + 1e-12). √(2 − 2cos) would return ~0.
    close(l2Distance([1, 1e-6], [1, -1e-6]), 2e-6 / Math.sqrt(1 + 1e-12), 1e-18);
  });

  it("places a zero vector at the origin: distance 1 to any vector, 0 to another zero", () => {
    close(l2Distance([0, 0, 0], [1, 2, 2]), 1);
    close(l2Distance([0, 0], [0, 0]), 0);
  });

  it("works on Float32Array row views", () => {
    const rows = Float32Array.from([3, 4, 4, 3]);
    close(l2Distance(rows.subarray(0, 2), rows.subarray(2, 4)), Math.sqrt(0.08), 1e-7);
  });
});

describe("cosineDistance", () => {
  it("is 1 − cos", () => {
    // cos = (12 + 12)/25 = 0.96
    close(cosineDistance([3, 4], [4, 3]), 0.04);
    close(cosineDistance([1, 0], [0, 7]), 1);
    close(cosineDistance([2, 0], [-1, 0]), 2);
    close(cosineDistance([1, 1], [2, 2]), 0);
  });

  it("is 1 when either vector is zero (n(0)·n(b) = 0)", () => {
    close(cosineDistance([0, 0], [1, 0]), 1);
    close(cosineDistance([0, 0], [0, 0]), 1);
  });

  it("relates to l2 on unit vectors: l2² = 2·cosine", () => {
    const a = [0.3, -1.2, 2.5, 0.1];
    const b = [1.1, 0.4, -0.7, 2.0];
    close(l2Distance(a, b) ** 2, 2 * cosineDistance(a, b), 1e-12);
    close(distance("l2", a, b), l2Distance(a, b));
    close(distance("cosine", a, b), cosineDistance(a, b));
  });
});

describe("invalid embeddings", () => {
  it("rejects NaN and ±Inf with model_output_invalid", () => {
    throwsCode(() => l2Distance([NaN, 1], [1, 1]), "model_output_invalid");
    throwsCode(() => cosineDistance([1, 1], [Infinity, 1]), "model_output_invalid");
    throwsCode(() => l2Distance([1, -Infinity], [1, 1]), "model_output_invalid");
    throwsCode(() => normalizeRows(Float32Array.from([1, 2, NaN, 0]), 2), "model_output_invalid");
  });

  it("rejects vectors of different dimension and buffers that are not whole rows", () => {
    throwsCode(() => l2Distance([1, 2], [1, 2, 3]), "model_output_invalid");
    throwsCode(() => normalizeRows(new Float32Array(5), 2), "model_output_invalid");
  });
});

describe("normalizeRows", () => {
  it("scales each row to unit norm and leaves zero rows at zero", () => {
    const out = normalizeRows(Float32Array.from([3, 4, 0, 0, 0, -2]), 2);
    assert.deepEqual(Array.from(out), [0.6000000238418579, 0.800000011920929, 0, 0, 0, -1]);
  });

  it("does not modify its input", () => {
    const rows = Float32Array.from([3, 4]);
    normalizeRows(rows, 2);
    assert.deepEqual(Array.from(rows), [3, 4]);
  });
});
