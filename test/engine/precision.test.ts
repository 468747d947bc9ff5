/**
 * --precision fp16: the encoders run in float16 inside the composed graph, and the fixture audit's
 * scores keep their order (Spearman ≥ 0.99 against fp32). On the CPU provider ONNX Runtime runs the
 * float16 graph through float32 kernels (weights and intermediate tensors rounded to half precision);
 * scripts/gpu-proof.sh repeats the check on a GPU provider.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { float32ToHalfBits } from "../../src/engine/onnx/float16.ts";
import { halfToFloat32 } from "../../src/engine/representation.ts";

const root = new URL("../..", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, "fixtures/manifest.json"), "utf8")) as { encoders: { normalization: { mean: number[]; std: number[] } } };

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  order.forEach(([, i], k) => (r[i] = k));
  return r;
}

function spearman(a: number[], b: number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const d2 = ra.reduce((s, r, i) => s + (r - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

async function fixtureScores(precision: "fp32" | "fp16"): Promise<{ scores: number[]; mode: string; augmentation?: string }> {
  const candidates = await openPointSet(join(root, "fixtures/data/candidates"));
  const config = AuditConfigSchema.parse({
    views: 4,
    seed: 1,
    precision,
    preprocessing: { mean: manifest.encoders.normalization.mean, std: manifest.encoders.normalization.std },
  });
  const prepared = await prepareAudit(
    { target: readFileSync(join(root, "fixtures/encoders/target.onnx")), reference: readFileSync(join(root, "fixtures/encoders/reference.onnx")), candidates },
    config,
    { providers: ["cpu"], threads: 1 },
  );
  try {
    const rows = await measurePoints(prepared.context, { to: 120 });
    return { scores: rows.map((r) => r.score), mode: prepared.pipeline.mode, augmentation: prepared.pipeline.augmentation };
  } finally {
    await prepared.release();
    await candidates.close();
  }
}

test("fp16 keeps the fixture's score order (Spearman ≥ 0.99 against fp32), and changes the scores", async () => {
  const fp32 = await fixtureScores("fp32");
  const fp16 = await fixtureScores("fp16");
  assert.equal(fp16.mode, "fused");
  // The float16 graph fed with views made on the host, as a GPU provider's small views are (batch-pipeline.ts).
  assert.equal(fp16.augmentation, "host");
  const rho = spearman(fp32.scores, fp16.scores);
  assert.ok(rho >= 0.99, `Spearman ${rho.toFixed(4)} ≥ 0.99`);
  const largest = Math.max(...fp32.scores.map((s, i) => Math.abs(s - fp16.scores[i])));
  assert.ok(largest > 1e-6, `fp16 must differ from fp32 somewhere (largest difference ${largest})`);
});

test("float32 → float16 rounds to nearest even and keeps the special values", () => {
  const values = [0, -0, 1, -2.5, 65504, 65520, 1e-8, 6.1e-5, 3.14159, Infinity, -Infinity];
  const back = halfToFloat32(Uint16Array.from(values, float32ToHalfBits));
  assert.deepEqual(Array.from(back), [0, -0, 1, -2.5, 65504, Infinity, 0, 6.097555160522461e-5, 3.140625, Infinity, -Infinity]);
  assert.ok(Number.isNaN(halfToFloat32(Uint16Array.of(float32ToHalfBits(NaN)))[0]));
});
