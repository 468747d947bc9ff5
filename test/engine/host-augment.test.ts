/**
 * The host augmentation (native/augment.cc through src/engine/host-augment.ts) against the
 * reference on the cases the graph and TF.js are held to, in both layouts, several images of
 * different sizes in one batch, and its refusals.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRAY_WEIGHTS, referenceAugment } from "../../src/core/augment-reference.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import type { RgbImage } from "../../src/core/image.ts";
import { PRESETS, type AugmentationPolicy } from "../../src/core/policy.ts";
import { sampleViewsForPoint, type Size, type ViewParams } from "../../src/core/view-params.ts";
import { ArrayPool } from "../../src/engine/array-pool.ts";
import { packAugmentInputs, stagesForPolicy, type AugmentGraphOptions, type SourceViews } from "../../src/engine/augment-graph.ts";
import { hostAugmentation, HOST_VIEWS_INPUT, addonConstants, loadAddon, packHostViews } from "../../src/engine/host-augment.ts";
import { maxAbsDiff, noiseImage, toHwc, viewWith } from "../helpers/augment-images.ts";
import { assertMatchesReference, EVERY_STAGE, singleOpCases, wholePolicyCases } from "../helpers/policy-cases.ts";


function options(policy: AugmentationPolicy, out: Size, extra: Partial<AugmentGraphOptions> = {}): AugmentGraphOptions {
  return { stages: stagesForPolicy(policy, out), out, layout: "NCHW", mean: [0, 0, 0], std: [1, 1, 1], range: [0, 1], ...extra };
}

/** The host's views of `batch` (NCHW, [0,1] scale unless the options say otherwise). */
function hostViews(opts: AugmentGraphOptions, batch: SourceViews[]): Float32Array {
  const packed = packHostViews(opts, batch, new ArrayPool());
  const views = packed[HOST_VIEWS_INPUT];
  const V = batch.reduce((n, b) => n + b.views.length, 0);
  assert.deepEqual(views.dims, opts.layout === "NHWC" ? [V, opts.out.height, opts.out.width, 3] : [V, 3, opts.out.height, opts.out.width]);
  assert.ok(views.data instanceof Float32Array);
  return views.data;
}

function perViewDiffs(opts: AugmentGraphOptions, image: RgbImage, views: ViewParams[]): number[] {
  const got = hostViews(opts, [{ image, views }]);
  const n = 3 * opts.out.height * opts.out.width;
  return views.map((v, i) => maxAbsDiff(got.subarray(i * n, (i + 1) * n), referenceAugment(image, v, opts.out)));
}

const assertMatches = (diffs: number[], labels: string[]) => assertMatchesReference(diffs, labels, "host views");

describe("host augmentation", () => {
  it("is built here (npm ci builds the addon)", () => {
    const host = hostAugmentation();
    assert.ok("addon" in host, "reason" in host ? host.reason : "");
  });

  it("says why it cannot be used, without a path: not built, not an addon, no augment function", () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-addon-"));
    try {
      writeFileSync(join(dir, "broken.node"), "not a shared object");
      writeFileSync(join(dir, "other.cjs"), "module.exports = { something: 1 };");
      const cases = [
        [join(dir, "absent.node"), /is not built/],
        [join(dir, "broken.node"), /did not load on this machine/],
        [join(dir, "other.cjs"), /exports no augment function/],
      ] as const;
      for (const [path, expected] of cases) {
        const got = loadAddon(path);
        assert.ok("reason" in got, path);
        assert.match(got.reason, expected);
        assert.ok(!got.reason.includes(dir), "no path in the reason");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("matches the reference one op at a time", () => {
    const src = { height: 11, width: 17 };
    const cases = singleOpCases(src);
    const out = { height: 9, width: 12 };
    assertMatches(perViewDiffs(options(EVERY_STAGE, out), noiseImage(src.height, src.width, 3), cases.map((c) => c[1])), cases.map((c) => c[0]));
  });

  it("matches the reference for all 24 orders of the colour-jitter ops", () => {
    const src = { height: 11, width: 17 };
    const views: ViewParams[] = [];
    const permute = (rest: number[], prefix: number[]): void => {
      if (rest.length === 0) views.push(viewWith(src, { jitter: { order: prefix, brightness: 1.3, contrast: 0.6, saturation: 1.8, hue: 0.15 } }));
      rest.forEach((o, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, o]));
    };
    permute([0, 1, 2, 3], []);
    assertMatches(perViewDiffs(options(EVERY_STAGE, { height: 7, width: 9 }), noiseImage(src.height, src.width, 5), views), views.map((v) => v.jitter!.order.join("")));
  });

  for (const c of wholePolicyCases()) {
    it(`matches the reference: ${c.name}, ${c.src.height}×${c.src.width} → ${c.out.height}×${c.out.width}`, () => {
      const image = noiseImage(c.src.height, c.src.width, c.name.length);
      const views = sampleViewsForPoint(c.policy, c.pairing, 99, c.name, 3, c.src, c.out);
      assertMatches(perViewDiffs(options(c.policy, c.out), image, views), views.map((v, i) => `view ${i} ${JSON.stringify(v)}`));
    });
  }

  it("a 23-tap blur (ResNet-18's at 224×224) with a small σ (subnormal taps dropped) matches too", () => {
    const src = { height: 40, width: 36 };
    const out = { height: 48, width: 40 };
    const views = [0.3, 0.5, 1.7].map((sigma) => viewWith(src, { blur: { sigma, kernelSize: 23 } }));
    assertMatches(perViewDiffs(options(EVERY_STAGE, out), noiseImage(src.height, src.width, 9), views), ["σ 0.3", "σ 0.5", "σ 1.7"]);
  });

  it("packs images of different sizes into one batch, each view from its own image", () => {
    const out = { height: 8, width: 10 };
    const images = [noiseImage(12, 9, 1), noiseImage(7, 15, 2), noiseImage(20, 20, 3)];
    const batch = images.map((image, i) => ({ image, views: sampleViewsForPoint(PRESETS.simclr, "views", 7, `p${i}`, 2, { height: image.height, width: image.width }, out) }));
    const got = hostViews(options(PRESETS.simclr, out), batch);
    const n = 3 * out.height * out.width;
    let v = 0;
    for (const { image, views } of batch) {
      for (const view of views) {
        assert.ok(maxAbsDiff(got.subarray(v * n, (v + 1) * n), referenceAugment(image, view, out)) <= 1e-4, `view ${v}`);
        v++;
      }
    }
  });

  it("normalizes for the encoder and writes NHWC as the graph does", () => {
    const src = { height: 10, width: 14 };
    const image = noiseImage(src.height, src.width, 8);
    const out = { height: 6, width: 5 };
    const views = sampleViewsForPoint(EVERY_STAGE, "views", 3, "norm", 2, src, out);
    const extra = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3], range: [-1, 1] } as const;
    const plain = hostViews(options(EVERY_STAGE, out), [{ image, views }]);
    const nchw = hostViews(options(EVERY_STAGE, out, extra), [{ image, views }]);
    const nhwc = hostViews(options(EVERY_STAGE, out, { ...extra, layout: "NHWC" }), [{ image, views }]);
    const affine = addonConstants(extra);
    const n = 3 * out.height * out.width;
    // The graph's constants: a = (hi − lo)/std, b = lo − (hi − lo)·mean/std.
    assert.ok(maxAbsDiff(affine, [10, 8, 2 / 0.3, -5, -5, -5, ...GRAY_WEIGHTS]) < 1e-5);
    views.forEach((_, i) => {
      // One float32 multiply-add per value on the host's own [0,1] views.
      const expected = Float32Array.from(plain.subarray(i * n, (i + 1) * n), (x, k) => Math.fround(Math.fround(x * affine[Math.floor(k / (n / 3))]) + affine[3 + Math.floor(k / (n / 3))]));
      assert.deepEqual(nchw.subarray(i * n, (i + 1) * n), expected, `view ${i} NCHW`);
      assert.deepEqual(nhwc.subarray(i * n, (i + 1) * n), toHwc(expected, out), `view ${i} NHWC`);
    });
  });

  it("the addon refuses a malformed call with a TypeError before it reads anything", () => {
    const host = hostAugmentation();
    assert.ok("addon" in host);
    // One 4×4 source, one view: crop 0,0,4,4, no flip, no jitter, no grayscale, a 3-tap blur.
    const valid = () => ({
      sources: new Uint8Array(4 * 4 * 3).fill(128),
      sourceSizes: Int32Array.of(4, 4, 4, 4),
      ints: Int32Array.of(0, 0, -1, -1, -1, -1, 0, 3, 0, 0, 0, 4, 4),
      floats: Float32Array.of(1, 1, 1, 0, 2),
      taps: Float32Array.of(0.25, 0.5, 0.25),
      out: new Float32Array(3 * 2 * 2),
      size: Int32Array.of(2, 2, 0, 3),
      constants: addonConstants({ mean: [0, 0, 0], std: [1, 1, 1], range: [0, 1] }),
    });
    type Args = ReturnType<typeof valid>;
    const call = (a: Args) => host.addon.augment(a.sources, a.sourceSizes, a.ints, a.floats, a.taps, a.out, a.size, a.constants);
    const ok = valid();
    call(ok);
    assert.ok(ok.out.every((x) => Math.abs(x - 128 / 255) < 1e-6), "a grey source stays grey");
    const cases: [string, (a: Args) => void, RegExp][] = [
      ["a source out of range", (a) => (a.ints[0] = 1), /source is out of range/],
      ["a negative source", (a) => (a.ints[0] = -1), /source is out of range/],
      ["a crop past the source", (a) => (a.ints[12] = 5), /crop lies outside/],
      ["a crop of no pixels", (a) => (a.ints[11] = 0), /crop lies outside/],
      ["a jitter op that does not exist", (a) => (a.ints[2] = 4), /jitter order is malformed/],
      ["an even blur kernel", (a) => (a.ints[7] = 2), /blur kernel size is malformed/],
      ["a blur kernel longer than its taps", (a) => (a.ints[7] = 5), /blur kernel size is malformed/],
      ["a source larger than the packed sources", (a) => (a.sourceSizes[0] = 5), /malformed source sizes/],
      ["too few source bytes", (a) => (a.sources = new Uint8Array(4 * 4 * 3 - 1)), /lengths do not match/],
      ["too small an output", (a) => (a.out = new Float32Array(3 * 2 * 2 - 1)), /lengths do not match/],
      ["too few taps", (a) => (a.taps = new Float32Array(2)), /lengths do not match/],
      ["a view cut short", (a) => (a.ints = a.ints.subarray(0, 12)), /malformed sizes/],
      ["the wrong constants", (a) => (a.constants = new Float32Array(8)), /malformed sizes/],
      ["an output size of zero", (a) => (a.size = Int32Array.of(0, 2, 0, 3)), /malformed sizes/],
    ];
    for (const [label, mutate, message] of cases) {
      const a = valid();
      mutate(a);
      assert.throws(() => call(a), (e: unknown) => e instanceof TypeError && "code" in e && e.code === "ERR_SSLMEM_AUGMENT" && message.test(e.message), label);
      assert.ok(a.out.every((x) => x === 0), `${label}: nothing written`);
    }
    // A float array where the ints go (a call the type checker would refuse, made through Reflect).
    const a = valid();
    const args = [a.sources, a.sourceSizes, Float32Array.from(a.ints), a.floats, a.taps, a.out, a.size, a.constants];
    assert.throws(() => Reflect.apply(host.addon.augment, host.addon, args), (e: unknown) => e instanceof TypeError && /not the typed array/.test(e.message));
    assert.throws(() => Reflect.apply(host.addon.augment, host.addon, args.slice(0, 7)), (e: unknown) => e instanceof TypeError && /takes 8 arguments/.test(e.message));
  });

  it("refuses a crop outside its image, as the graph's packing does", () => {
    const image = noiseImage(5, 5, 1);
    const bad = viewWith({ height: 5, width: 5 }, { crop: { top: 3, left: 0, height: 4, width: 5 } });
    const opts = options(PRESETS.none, { height: 4, width: 4 });
    for (const pack of [packHostViews, packAugmentInputs]) {
      assert.throws(() => pack(opts, [{ image, views: [bad] }], new ArrayPool()), (e) => isSslmemError(e) && e.code === "internal" && /crop/.test(e.message));
    }
  });
});
