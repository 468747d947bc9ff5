/**
 * Views made with tf ops on the TF.js backend (src/engine/tfjs/tf-augment.ts) against the
 * TypeScript augmentation reference, ≤ 1e-4 per pixel: each op alone, all 24 jitter orders, every
 * preset, random policies, several images of different sizes in one batch, and the normalization.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceAugment } from "../../src/core/augment-reference.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import type { RgbImage } from "../../src/core/image.ts";
import { PRESETS } from "../../src/core/policy.ts";
import { sampleViewsForPoint, type Size, type ViewParams } from "../../src/core/view-params.ts";
import { TfAugmenter, type TfSourceViews } from "../../src/engine/tfjs/tf-augment.ts";
import { maxAbsDiff, noiseImage, toHwc, viewWith } from "../helpers/augment-images.ts";
import { singleOpCases, wholePolicyCases, assertMatchesReference, REFERENCE_TOLERANCE } from "../helpers/policy-cases.ts";

const TOLERANCE = REFERENCE_TOLERANCE;

async function augmenter(out: Size, extra: Partial<{ mean: [number, number, number]; std: [number, number, number]; range: [number, number] }> = {}): Promise<TfAugmenter> {
  return TfAugmenter.create({ out, mean: [0, 0, 0], std: [1, 1, 1], range: [0, 1], ...extra });
}

/** The tf views of a batch as host data (NHWC), the tensor disposed. */
async function run(aug: TfAugmenter, batch: TfSourceViews[]): Promise<Float32Array> {
  const t = aug.run(batch);
  try {
    const { height, width } = aug.options.out;
    assert.deepEqual(t.shape, [batch.reduce((n, b) => n + b.views.length, 0), height, width, 3]);
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/** Max abs difference from the reference, per view of the batch. */
async function perViewDiffs(aug: TfAugmenter, batch: TfSourceViews[]): Promise<number[]> {
  const out = aug.options.out;
  const got = await run(aug, batch);
  const n = 3 * out.height * out.width;
  return batch
    .flatMap(({ image, views }) => views.map((v) => toHwc(referenceAugment(image, v, out), out)))
    .map((ref, i) => maxAbsDiff(got.subarray(i * n, (i + 1) * n), ref));
}

const assertMatches = (diffs: number[], labels: string[]) => assertMatchesReference(diffs, labels, "tf views");

describe("tf-op views vs reference, one op at a time", () => {
  const src = { height: 11, width: 17 };
  const image = noiseImage(src.height, src.width, 3);
  const out = { height: 9, width: 12 };
  const cases = singleOpCases(src);

  it(`matches within ${TOLERANCE} for each op, all views in one batch`, async () => {
    const diffs = await perViewDiffs(await augmenter(out), [{ image, views: cases.map((c) => c[1]) }]);
    assertMatches(diffs, cases.map((c) => c[0]));
  });

  it("matches each op alone in its own batch (the ops no view needs are skipped)", async () => {
    const aug = await augmenter(out);
    for (const [name, view] of cases) assertMatches(await perViewDiffs(aug, [{ image, views: [view] }]), [name]);
  });

  it("matches for all 24 orders of the colour-jitter ops", async () => {
    const views: ViewParams[] = [];
    const permute = (rest: number[], prefix: number[]): void => {
      if (rest.length === 0) views.push(viewWith(src, { jitter: { order: prefix, brightness: 1.3, contrast: 0.6, saturation: 1.8, hue: 0.15 } }));
      rest.forEach((o, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, o]));
    };
    permute([0, 1, 2, 3], []);
    assert.equal(views.length, 24);
    assertMatches(await perViewDiffs(await augmenter(out), [{ image, views }]), views.map((v) => v.jitter!.order.join("")));
  });
});

describe("tf-op views vs reference, whole policies", () => {
  const cases = wholePolicyCases();
  cases.splice(1, 0, { name: "simclr at 32×32", policy: PRESETS.simclr, src: { height: 32, width: 32 }, out: { height: 32, width: 32 }, pairing: "views" });

  for (const c of cases) {
    it(`matches within ${TOLERANCE}: ${c.name}, ${c.src.height}×${c.src.width} → ${c.out.height}×${c.out.width}`, async () => {
      const image = noiseImage(c.src.height, c.src.width, c.name.length);
      const views = sampleViewsForPoint(c.policy, c.pairing, 99, c.name, 6, c.src, c.out);
      assertMatches(await perViewDiffs(await augmenter(c.out), [{ image, views }]), views.map((v, i) => `view ${i} ${JSON.stringify(v)}`));
    });
  }
});

describe("tf-op views: batches, normalization, errors", () => {
  const src = { height: 10, width: 14 };
  const image = noiseImage(src.height, src.width, 8);
  const out = { height: 6, width: 5 };

  it("cuts the views of images of different sizes in one batch, each from its own pixels", async () => {
    const small: RgbImage = noiseImage(7, 5, 9);
    const batch = [
      { image, views: sampleViewsForPoint(PRESETS.byol, "views", 2, "big", 3, src, out) },
      { image: small, views: sampleViewsForPoint(PRESETS.byol, "views", 2, "small", 3, { height: 7, width: 5 }, out) },
      { image: small, views: [] },
    ];
    const diffs = await perViewDiffs(await augmenter(out), batch);
    assert.equal(diffs.length, 12);
    assertMatches(diffs, diffs.map((_, i) => `batch view ${i}`));
  });

  it("normalizes to lo + (hi − lo)·(x − mean)/std, channel-last", async () => {
    const mean: [number, number, number] = [0.485, 0.456, 0.406];
    const std: [number, number, number] = [0.229, 0.224, 0.225];
    const views = sampleViewsForPoint(PRESETS.simclr, "views", 5, "norm", 2, src, out);
    const got = await run(await augmenter(out, { mean, std, range: [-1, 254] }), [{ image, views }]);
    const plane = out.height * out.width;
    const expected = views.flatMap((v) => Array.from(toHwc(referenceAugment(image, v, out).map((x, i) => -1 + (255 * (x - mean[Math.floor(i / plane)])) / std[Math.floor(i / plane)]), out)));
    assert.ok(maxAbsDiff(got, expected) <= (TOLERANCE * 255) / 0.224, `max diff ${maxAbsDiff(got, expected)}`);
  });

  it("refuses malformed images, crops outside the image and bad options", async () => {
    const aug = await augmenter(out);
    assert.throws(() => aug.run([{ image: { height: 10, width: 14, data: new Uint8Array(10) }, views: [viewWith(src, {})] }]), (e) => isSslmemError(e) && e.code === "image_invalid");
    assert.throws(() => aug.run([{ image, views: [viewWith(src, { crop: { top: 5, left: 0, height: 6, width: 3 } })] }]), (e) => isSslmemError(e) && e.code === "internal");
    await assert.rejects(augmenter({ height: 0, width: 3 }), (e) => isSslmemError(e) && e.code === "invalid_config");
    await assert.rejects(augmenter(out, { std: [1, 0, 1] }), (e) => isSslmemError(e) && e.code === "invalid_config");
  });
});
