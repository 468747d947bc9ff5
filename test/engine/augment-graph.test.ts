import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { referenceAugment } from "../../src/core/augment-reference.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import type { RgbImage } from "../../src/core/image.ts";
import { AugmentationPolicySchema, PRESETS, type AugmentationPolicy } from "../../src/core/policy.ts";
import { sampleViewsForPoint, type Size, type ViewParams } from "../../src/core/view-params.ts";
import * as ort from "onnxruntime-node";
import { augmentRunCount, buildAugmentGraph, MAX_RUNS, packAugmentInputs, stagesForPolicy, type AugmentGraphOptions, type SourceViews } from "../../src/engine/augment-graph.ts";
import { augmentGraphOptions, toFeeds } from "../../src/engine/augmenter.ts";
import { Augmenter, type AugmenterOptions } from "../../src/engine/augmenter.ts";
import { maxAbsDiff, noiseImage, toHwc, viewWith } from "../helpers/augment-images.ts";
import { EVERY_STAGE, singleOpCases, wholePolicyCases, assertMatchesReference, REFERENCE_TOLERANCE } from "../helpers/policy-cases.ts";

const TOLERANCE = REFERENCE_TOLERANCE;

const augmenters: Augmenter[] = [];
after(async () => {
  await Promise.all(augmenters.map((a) => a.release()));
});

async function augmenter(policy: AugmentationPolicy, out: Size, extra: Partial<AugmenterOptions> = {}): Promise<Augmenter> {
  const a = await Augmenter.create({
    policy,
    out,
    layout: "NCHW",
    mean: [0, 0, 0],
    std: [1, 1, 1],
    range: [0, 1],
    executionProviders: ["cpu"],
    ...extra,
  });
  augmenters.push(a);
  return a;
}

/** Max abs difference between the graph and the reference for each view (NCHW, [0,1] scale). */
async function perViewDiffs(aug: Augmenter, image: RgbImage, views: ViewParams[], out: Size): Promise<number[]> {
  const got = await aug.run(image, views);
  const n = 3 * out.height * out.width;
  assert.equal(got.length, views.length * n);
  return views.map((v, i) => maxAbsDiff(got.subarray(i * n, (i + 1) * n), referenceAugment(image, v, out)));
}

const assertMatches = (diffs: number[], labels: string[]) => assertMatchesReference(diffs, labels, "graph views");

describe("augmentation graph vs reference, one op at a time", () => {
  const src = { height: 11, width: 17 };
  const image = noiseImage(src.height, src.width, 3);
  const out = { height: 9, width: 12 };
  const cases = singleOpCases(src);

  it(`matches within ${TOLERANCE} for each op`, async () => {
    const aug = await augmenter(EVERY_STAGE, out);
    const diffs = await perViewDiffs(aug, image, cases.map((c) => c[1]), out);
    assertMatches(diffs, cases.map((c) => c[0]));
  });

  it("matches for all 24 orders of the colour-jitter ops", async () => {
    const views: ViewParams[] = [];
    const permute = (rest: number[], prefix: number[]): void => {
      if (rest.length === 0) views.push(viewWith(src, { jitter: { order: prefix, brightness: 1.3, contrast: 0.6, saturation: 1.8, hue: 0.15 } }));
      rest.forEach((o, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, o]));
    };
    permute([0, 1, 2, 3], []);
    assert.equal(views.length, 24);
    const aug = await augmenter(EVERY_STAGE, out);
    const got = await perViewDiffs(aug, image, views, out);
    assertMatches(got, views.map((v) => v.jitter!.order.join("")));
  });

  it("matches when the policy uses only some jitter components (fewer blend stages)", async () => {
    const policy = AugmentationPolicySchema.parse({ ops: [{ op: "colorJitter", p: 1, brightness: 0.5, saturation: 0.5 }] });
    assert.deepEqual(stagesForPolicy(policy, out).jitter, [0, 2]);
    const views = [
      viewWith(src, { jitter: { order: [2, 3, 0, 1], brightness: 0.7, contrast: 1, saturation: 1.4, hue: 0 } }),
      viewWith(src, { jitter: { order: [0, 1, 3, 2], brightness: 1.2, contrast: 1, saturation: 0.2, hue: 0 } }),
      viewWith(src, {}),
    ];
    assertMatches(await perViewDiffs(await augmenter(policy, out), image, views, out), ["s,b", "b,s", "identity"]);
  });
});

describe("augmentation graph vs reference, whole policies", () => {
  const cases = wholePolicyCases();

  for (const c of cases) {
    it(`matches within ${TOLERANCE}: ${c.name}, ${c.src.height}×${c.src.width} → ${c.out.height}×${c.out.width}`, async () => {
      const image = noiseImage(c.src.height, c.src.width, c.name.length);
      const views = sampleViewsForPoint(c.policy, c.pairing, 99, c.name, 3, c.src, c.out);
      const diffs = await perViewDiffs(await augmenter(c.policy, c.out), image, views, c.out);
      assertMatches(diffs, views.map((v, i) => `view ${i} ${JSON.stringify(v)}`));
    });
  }
});

describe("augmentation graph: normalization, layout, stages, errors", () => {
  const src = { height: 10, width: 14 };
  const image = noiseImage(src.height, src.width, 8);
  const out = { height: 6, width: 5 };
  const views = sampleViewsForPoint(PRESETS.simclr, "views", 5, "norm", 2, src, out);
  const mean: [number, number, number] = [0.485, 0.456, 0.406];
  const std: [number, number, number] = [0.229, 0.224, 0.225];

  for (const layout of ["NCHW", "NHWC"] as const) {
    it(`normalizes to lo + (hi − lo)·(x − mean)/std in ${layout}`, async () => {
      const aug = await augmenter(PRESETS.simclr, out, { layout, mean, std, range: [-1, 254] });
      const got = await aug.run(image, views);
      const plane = out.height * out.width;
      const expected = views.flatMap((v) => {
        const ref = referenceAugment(image, v, out).map((x, i) => -1 + (255 * (x - mean[Math.floor(i / plane)])) / std[Math.floor(i / plane)]);
        return Array.from(layout === "NHWC" ? toHwc(ref, out) : ref);
      });
      // the [0,1] tolerance, scaled by the largest gain (hi − lo)/std
      assert.ok(maxAbsDiff(got, expected) <= (TOLERANCE * 255) / 0.224, `max diff ${maxAbsDiff(got, expected)}`);
    });
  }

  it("builds only the stages a policy uses", () => {
    const graphOf = (policy: AugmentationPolicy) => fromBinary(ModelProtoSchema, buildAugmentGraph({ stages: stagesForPolicy(policy, out), out, layout: "NCHW", mean: [0, 0, 0], std: [1, 1, 1], range: [0, 1] })).graph!;
    const opTypes = (policy: AugmentationPolicy) => new Set(graphOf(policy).node.map((n) => n.opType));
    const inputs = (policy: AugmentationPolicy) => graphOf(policy).input.map((i) => i.name);
    // Mul, Add and MatMul also crop and resize; the stages below are what is left out.
    const cheap = ["Where", "Less", "ReduceMax", "ReduceSum", "ReduceMean", "Clip"];
    for (const preset of ["none", "mae"] as const) {
      const ops = opTypes(PRESETS[preset]);
      assert.deepEqual(cheap.filter((t) => ops.has(t)), [], `${preset} builds ${[...ops].join(", ")}`);
      assert.deepEqual(inputs(PRESETS[preset]), ["sources", "row_index0", "row_index1", "row_weight", "columns"], `${preset} takes crop inputs only`);
    }
    const simclr = opTypes(PRESETS.simclr);
    assert.ok(["Less", "ReduceMean", "ReduceMax"].every((t) => simclr.has(t)), "simclr has the jitter stages and hue");
    assert.ok(inputs(PRESETS.simclr).includes("blur_h"), "simclr blurs");
    assert.ok(!simclr.has("GreaterOrEqual"), "simclr has no solarize stage");
    assert.ok(opTypes(PRESETS.byol).has("GreaterOrEqual"));
  });

  it("runs any number of views, and images of different sizes, through one session in one run", async () => {
    const tiny = { height: 3, width: 4 };
    const many = sampleViewsForPoint(PRESETS.mae, "views", 1, "many", 70, src, tiny);
    const aug = await augmenter(EVERY_STAGE, tiny);
    assertMatches(await perViewDiffs(aug, image, many, tiny), many.map((_, i) => `view ${i}`));
    // A second, smaller image in the same batch: its views read only its own pixels.
    const small = noiseImage(7, 5, 9);
    const smallViews = sampleViewsForPoint(EVERY_STAGE, "views", 2, "small", 3, { height: 7, width: 5 }, tiny);
    const bigViews = sampleViewsForPoint(EVERY_STAGE, "views", 2, "big", 3, src, tiny);
    const got = await aug.runBatch([{ image, views: bigViews }, { image: small, views: smallViews }]);
    const n = 3 * tiny.height * tiny.width;
    const expected = [...bigViews.map((v) => referenceAugment(image, v, tiny)), ...smallViews.map((v) => referenceAugment(small, v, tiny))];
    assertMatches(expected.map((ref, i) => maxAbsDiff(got.subarray(i * n, (i + 1) * n), ref)), expected.map((_, i) => `batch view ${i}`));
  });

  it("reads an image whose bytes are a view into a larger buffer (as decoders return)", async () => {
    const backing = new Uint8Array(11 + image.data.length);
    backing.set(image.data, 11);
    const offsetImage = { ...src, data: backing.subarray(11) };
    const v = [viewWith(src, { crop: { top: 1, left: 2, height: 7, width: 9 }, flip: true })];
    assertMatches(await perViewDiffs(await augmenter(PRESETS.mae, out), offsetImage, v, out), ["offset image"]);
  });

  it("rejects views that need a stage the graph lacks, and malformed images", async () => {
    const aug = await augmenter(PRESETS.mae, out);
    await assert.rejects(aug.run(image, [viewWith(src, { blur: { sigma: 1, kernelSize: 3 } })]), (e) => isSslmemError(e) && /blur/.test(e.message));
    await assert.rejects(aug.run(image, [viewWith(src, { crop: { top: 5, left: 0, height: 6, width: 3 } })]), (e) => isSslmemError(e) && e.code === "internal");
    const broken = { height: 10, width: 14, data: new Uint8Array(10) };
    await assert.rejects(aug.run(broken, [viewWith(src, {})]), (e) => isSslmemError(e) && e.code === "image_invalid");
  });
});

describe("augmentation graph in runs of views", () => {
  /** The views of one graph run, bit for bit. */
  async function views(graph: AugmentGraphOptions, opset: number, batch: SourceViews[]): Promise<Float32Array> {
    const session = await ort.InferenceSession.create(buildAugmentGraph(graph, opset));
    try {
      const { views: out } = await session.run(toFeeds(packAugmentInputs(graph, batch)));
      assert.ok(out.data instanceof Float32Array);
      return out.data;
    } finally {
      await session.release();
    }
  }

  for (const preset of ["simclr", "byol", "mae", "none"] as const) {
    it(`gives the same views, bit for bit, as one run: ${preset}, NCHW and NHWC, opsets 13 and 17`, async () => {
      const out = { height: 12, width: 10 };
      const a = noiseImage(17, 14, 31);
      const b = noiseImage(9, 13, 32);
      for (const layout of ["NCHW", "NHWC"] as const) {
        const graph = augmentGraphOptions({ policy: PRESETS[preset], out, layout, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.25], range: [0, 1] });
        // 5 runs over 5 views (one each, the fewest), 7, 12 (runs of unequal size) and 16.
        for (const [na, nb] of [[3, 2], [4, 3], [6, 6], [8, 8]]) {
          const batch = [
            { image: a, views: sampleViewsForPoint(PRESETS[preset], "views", 3, `a${na}`, na, a, out).slice(0, na) },
            { image: b, views: sampleViewsForPoint(PRESETS[preset], "views", 3, `b${nb}`, nb, b, out).slice(0, nb) },
          ];
          for (const opset of [13, 17]) {
            const whole = await views(graph, opset, batch);
            const inRuns = await views({ ...graph, runs: 5 }, opset, batch);
            assert.equal(inRuns.length, whole.length);
            assert.ok(inRuns.every((x, i) => Object.is(x, whole[i])), `${layout}, ${na + nb} views, opset ${opset}`);
          }
        }
      }
    });
  }

  it("chooses runs of about 3 MiB of views, at most MAX_RUNS and never more than the fewest views of a batch", () => {
    // The fixture's batch (8 points × 32 views at 32×32: 3 MiB) is one run; the convnet's at 64×64, four.
    assert.equal(augmentRunCount({ height: 32, width: 32 }, 256, 32), 1);
    assert.equal(augmentRunCount({ height: 64, width: 64 }, 256, 32), 4);
    assert.equal(augmentRunCount({ height: 64, width: 64 }, 32, 32), 1);
    assert.equal(augmentRunCount({ height: 224, width: 224 }, 256, 32), MAX_RUNS);
    assert.equal(augmentRunCount({ height: 224, width: 224 }, 256, 3), 3);
    assert.equal(augmentRunCount({ height: 224, width: 224 }, 1, 1), 1);
  });
});
