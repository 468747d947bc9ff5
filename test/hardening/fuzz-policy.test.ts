/**
 * Property-based fuzzing of the augmentation policy (issue 4): generated JSON and generated
 * valid-ish policies go through the schemas, view sampling and the reference augmentation on a
 * tiny image. Each input is either refused by zod (safeParse, never a throw) or yields views that
 * are well-formed and pixels that are finite and in [0, 1] — never an unhandled exception.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { referenceAugment } from "../../src/core/augment-reference.ts";
import { AugmentationPolicySchema, AugmentSettingSchema, OP_ORDER, resolvePolicy } from "../../src/core/policy.ts";
import { sampleViewsForPoint, type ViewParams } from "../../src/core/view-params.ts";
import { noiseImage } from "../helpers/augment-images.ts";
import { check } from "./support/fuzz.ts";

/** Numbers a hostile client sends: boundaries, tiny, huge, negative, non-integers, non-finite. */
const edgyNumber = fc.oneof(
  fc.constantFrom(0, 1, -1, 0.5, 1e-300, 1e-4, 1e-3, 1e3, 1e300, 2, 3, 4, 100, 101, 0.08, 4 / 3, 0.999999, 1.000001, Number.MAX_SAFE_INTEGER, -0),
  fc.double({ noDefaultInfinity: false }),
  fc.integer({ min: -5, max: 200 }),
  fc.double({ min: 0, max: 1, noNaN: true }),
);
const edgyValue = fc.oneof(
  { weight: 6, arbitrary: edgyNumber },
  { weight: 4, arbitrary: fc.tuple(edgyNumber, edgyNumber) },
  { weight: 1, arbitrary: fc.array(edgyNumber, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const FIELDS = ["p", "scale", "ratio", "brightness", "contrast", "saturation", "hue", "sigma", "kernelSize", "threshold"];
const opArb = fc
  .record({
    op: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...OP_ORDER) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
    fields: fc.dictionary(fc.constantFrom(...FIELDS), edgyValue, { maxKeys: 4 }),
  })
  .map(({ op, fields }) => ({ op, ...fields }));
/** Mostly in OP_ORDER (so many pass the schema), sometimes shuffled or repeated. */
const opListArb = fc.oneof(
  fc.subarray([...OP_ORDER]).chain((names) => fc.tuple(...names.map((name) => opArb.map((o) => ({ ...o, op: name })))) as fc.Arbitrary<Record<string, unknown>[]>),
  fc.array(opArb, { maxLength: 7 }),
);
const policyArb = fc.oneof(
  { weight: 8, arbitrary: fc.record({ ops: opListArb, secondViewOps: opListArb }, { requiredKeys: ["ops"] }) },
  { weight: 1, arbitrary: fc.constantFrom("simclr", "byol", "dino-global", "mae", "none", "SimCLR", "") },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

function assertWellFormed(view: ViewParams, src: { height: number; width: number }, out: { height: number; width: number }): void {
  const { crop } = view;
  for (const v of [crop.top, crop.left, crop.height, crop.width]) assert.ok(Number.isInteger(v), `crop ${JSON.stringify(crop)}`);
  assert.ok(crop.top >= 0 && crop.left >= 0 && crop.height >= 1 && crop.width >= 1, `crop ${JSON.stringify(crop)}`);
  assert.ok(crop.top + crop.height <= src.height && crop.left + crop.width <= src.width, `crop ${JSON.stringify(crop)} in ${src.height}×${src.width}`);
  assert.equal(typeof view.flip, "boolean");
  if (view.jitter) {
    const j = view.jitter;
    assert.deepEqual([...j.order].sort(), [0, 1, 2, 3]);
    for (const f of [j.brightness, j.contrast, j.saturation]) assert.ok(Number.isFinite(f) && f >= 0, `jitter factor ${f}`);
    assert.ok(Number.isFinite(j.hue) && Math.abs(j.hue) <= 0.5, `hue ${j.hue}`);
  }
  if (view.blur) {
    const { sigma, kernelSize } = view.blur;
    assert.ok(Number.isFinite(sigma) && sigma > 0, `sigma ${sigma}`);
    assert.ok(Number.isInteger(kernelSize) && kernelSize >= 1 && kernelSize % 2 === 1, `kernel ${kernelSize}`);
    assert.ok(kernelSize <= 2 * Math.min(out.height, out.width) - 1, `kernel ${kernelSize} for ${out.height}×${out.width}`);
  }
  if (view.solarize) assert.ok(view.solarize.threshold >= 0 && view.solarize.threshold <= 1);
}

test("arbitrary JSON never throws from the policy and config schemas", async () => {
  await check(
    "policy-schemas-arbitrary-json",
    fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
      AugmentationPolicySchema.safeParse(value);
      AugmentSettingSchema.safeParse(value);
      AuditConfigSchema.safeParse(value);
      AuditConfigSchema.safeParse({ augment: value });
      AuditConfigSchema.safeParse({ views: value, fdr: value, preprocessing: value });
    }),
    3000,
  );
});

test("generated policies: a zod error, or well-formed views with finite pixels in [0, 1]", async () => {
  let accepted = 0;
  await check(
    "policy-sampling-reference",
    fc.property(
      policyArb,
      fc.record({
        srcH: fc.integer({ min: 1, max: 24 }),
        srcW: fc.integer({ min: 1, max: 24 }),
        outH: fc.integer({ min: 1, max: 8 }),
        outW: fc.integer({ min: 1, max: 8 }),
        seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        pointId: fc.string({ maxLength: 20 }),
        views: fc.integer({ min: 1, max: 2 }),
        pairing: fc.constantFrom("views" as const, "original" as const),
      }),
      (raw, o) => {
        const parsed = AugmentSettingSchema.safeParse(raw);
        if (!parsed.success) {
          assert.ok(parsed.error.issues.length > 0, "a refusal says why");
          return;
        }
        accepted++;
        const policy = resolvePolicy(parsed.data);
        const src = { height: o.srcH, width: o.srcW };
        const out = { height: o.outH, width: o.outW };
        const views = sampleViewsForPoint(policy, o.pairing, o.seed, o.pointId, o.views, src, out);
        assert.equal(views.length, o.pairing === "views" ? 2 * o.views : o.views + 1);
        const image = noiseImage(src.height, src.width, o.seed % 1000);
        for (const view of views) {
          assertWellFormed(view, src, out);
          const pixels = referenceAugment(image, view, out);
          assert.equal(pixels.length, 3 * out.height * out.width);
          for (const v of pixels) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1 + 1e-6, `pixel ${v}`);
        }
      },
    ),
    2500,
  );
  // The generator must reach the sampler, or the property proves nothing about it.
  assert.ok(accepted > 250, `only ${accepted} generated policies passed the schema`);
});
