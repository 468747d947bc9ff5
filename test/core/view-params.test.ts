import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSslmemError } from "../../src/core/errors.ts";
import { AugmentationPolicySchema, PRESETS, type AugmentationOp } from "../../src/core/policy.ts";
import { viewStream } from "../../src/core/rng.ts";
import {
  blurKernelSize,
  fallbackCrop,
  roundHalfEven,
  sampleCrop,
  sampleViewParams,
  sampleViewsForPoint,
  type ViewParams,
} from "../../src/core/view-params.ts";

const op = <T extends AugmentationOp["op"]>(o: { op: T } & Record<string, unknown>) =>
  AugmentationPolicySchema.parse({ ops: [o] }).ops[0] as Extract<AugmentationOp, { op: T }>;

/** Views for many independent streams (view index i of one point). */
function sampleMany(ops: AugmentationOp[], n: number, src = { height: 100, width: 120 }, out = { height: 32, width: 32 }): ViewParams[] {
  return Array.from({ length: n }, (_, i) => sampleViewParams(ops, viewStream(7, "stats", i), src, out));
}

const fraction = (views: ViewParams[], pred: (v: ViewParams) => boolean) => views.filter(pred).length / views.length;

describe("roundHalfEven (Python round)", () => {
  it("rounds halves to even and the rest to nearest", () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, 4, 2, 3, 7]);
  });
});

describe("randomResizedCrop", () => {
  const rrc = op({ op: "randomResizedCrop", scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });

  it("keeps every crop inside the image, including tiny and non-square ones", () => {
    for (const src of [{ height: 7, width: 13 }, { height: 1, width: 1 }, { height: 300, width: 40 }]) {
      for (let i = 0; i < 300; i++) {
        const c = sampleCrop(rrc, viewStream(1, "bounds", i), src);
        assert.ok(c.top >= 0 && c.left >= 0 && c.height >= 1 && c.width >= 1, JSON.stringify(c));
        assert.ok(c.top + c.height <= src.height && c.left + c.width <= src.width, JSON.stringify(c));
      }
    }
  });

  it("respects scale and log-uniform ratio (statistically, on a large image)", () => {
    const src = { height: 1000, width: 1000 };
    const narrow = op({ op: "randomResizedCrop", scale: [0.2, 0.5], ratio: [0.5, 2] });
    const crops = Array.from({ length: 2000 }, (_, i) => sampleCrop(narrow, viewStream(2, "stats", i), src));
    const areas = crops.map((c) => (c.height * c.width) / 1e6);
    const logRatios = crops.map((c) => Math.log(c.width / c.height));
    // rounding to whole pixels moves area and ratio by well under 1% at this size
    assert.ok(areas.every((a) => a > 0.2 * 0.99 && a < 0.5 * 1.01));
    assert.ok(logRatios.every((r) => r > Math.log(0.5) - 0.01 && r < Math.log(2) + 0.01));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(mean(areas) - 0.35) < 0.01, `mean area fraction ${mean(areas)}`); // uniform on [0.2, 0.5]
    assert.ok(Math.abs(mean(logRatios)) < 0.03, `mean log ratio ${mean(logRatios)}`); // log-uniform, symmetric
    // positions are uniform over the valid range: the crop centre averages to the image centre
    assert.ok(Math.abs(mean(crops.map((c) => c.left + c.width / 2)) - 500) < 10);
  });

  it("falls back to torchvision's centre crop when no attempt fits", () => {
    // ratio ≥ 5 on a square image: every attempt is too wide; in_ratio 1 < 5 → w = W, h = round(W/5)
    const tooWide = op({ op: "randomResizedCrop", scale: [0.9, 1], ratio: [5, 6] });
    assert.deepEqual(sampleCrop(tooWide, viewStream(0, "f", 0), { height: 10, width: 10 }), { top: 4, left: 0, height: 2, width: 10 });
    // ratio ≤ 0.2 on a wide image: every attempt is too tall; in_ratio 2 > 0.2 → h = H, w = round(H·0.2)
    const tooTall = op({ op: "randomResizedCrop", scale: [0.9, 1], ratio: [0.1, 0.2] });
    assert.deepEqual(sampleCrop(tooTall, viewStream(0, "f", 0), { height: 10, width: 20 }), { top: 0, left: 9, height: 10, width: 2 });
    // scale so small that every crop rounds to 0 pixels; ratio admits the image → whole image
    const tiny = op({ op: "randomResizedCrop", scale: [1e-4, 1e-4], ratio: [0.5, 2] });
    assert.deepEqual(sampleCrop(tiny, viewStream(0, "f", 0), { height: 7, width: 13 }), { top: 0, left: 0, height: 7, width: 13 });
  });

  it("keeps at least one pixel where torchvision's fallback would be empty", () => {
    assert.deepEqual(fallbackCrop([100, 1000], { height: 7, width: 13 }), { top: 3, left: 0, height: 1, width: 13 });
  });

  it("uses the whole image when the policy has no crop", () => {
    const v = sampleViewParams([], viewStream(0, "p", 0), { height: 9, width: 4 }, { height: 3, width: 3 });
    assert.deepEqual(v.crop, { top: 0, left: 0, height: 9, width: 4 });
  });
});

describe("probabilistic ops", () => {
  it("flip, grayscale, blur and solarize happen with their probability p", () => {
    const ops = [
      op({ op: "horizontalFlip", p: 0.3 }),
      op({ op: "grayscale", p: 0.6 }),
      op({ op: "gaussianBlur", p: 0.5, sigma: [0.1, 2] }),
      op({ op: "solarize", p: 0.2, threshold: 0.7 }),
    ];
    const views = sampleMany(ops, 3000);
    // tolerance 0.035 ≈ 3.8 binomial standard errors at n = 3000
    assert.ok(Math.abs(fraction(views, (v) => v.flip) - 0.3) < 0.035);
    assert.ok(Math.abs(fraction(views, (v) => v.grayscale) - 0.6) < 0.035);
    assert.ok(Math.abs(fraction(views, (v) => v.blur !== null) - 0.5) < 0.035);
    assert.ok(Math.abs(fraction(views, (v) => v.solarize !== null) - 0.2) < 0.035);
    assert.ok(views.every((v) => v.solarize === null || v.solarize.threshold === 0.7));
    const sigmas = views.flatMap((v) => (v.blur ? [v.blur.sigma] : []));
    assert.ok(sigmas.every((s) => s >= 0.1 && s < 2));
    assert.ok(Math.abs(sigmas.reduce((a, b) => a + b, 0) / sigmas.length - 1.05) < 0.05);
  });

  it("p = 0 and p = 1 are never and always", () => {
    const never = sampleMany([op({ op: "horizontalFlip", p: 0 }), op({ op: "colorJitter", p: 0, brightness: 0.4 })], 200);
    assert.ok(never.every((v) => !v.flip && v.jitter === null));
    const always = sampleMany([op({ op: "horizontalFlip", p: 1 }), op({ op: "gaussianBlur", p: 1 })], 200);
    assert.ok(always.every((v) => v.flip && v.blur !== null));
  });
});

describe("colorJitter", () => {
  const jitter = op({ op: "colorJitter", p: 0.8, brightness: 0.4, contrast: 1.5, saturation: 0, hue: 0.1 });
  const views = sampleMany([jitter], 4800);
  const applied = views.flatMap((v) => (v.jitter ? [v.jitter] : []));

  it("is applied with probability p", () => {
    assert.ok(Math.abs(applied.length / views.length - 0.8) < 0.025);
  });

  it("draws factors in [max(0, 1 − v), 1 + v], hue in [−h, h], and skips zero strengths", () => {
    assert.ok(applied.every((j) => j.brightness >= 0.6 && j.brightness < 1.4));
    assert.ok(applied.every((j) => j.contrast >= 0 && j.contrast < 2.5)); // max(0, 1 − 1.5) = 0
    assert.ok(applied.every((j) => j.saturation === 1));
    assert.ok(applied.every((j) => j.hue >= -0.1 && j.hue < 0.1));
    const mean = applied.reduce((s, j) => s + j.hue, 0) / applied.length;
    assert.ok(Math.abs(mean) < 0.005);
  });

  it("applies the four ops in a uniformly random order", () => {
    const counts = new Map<string, number>();
    for (const j of applied) {
      assert.deepEqual([...j.order].sort(), [0, 1, 2, 3]);
      counts.set(j.order.join(""), (counts.get(j.order.join("")) ?? 0) + 1);
    }
    assert.equal(counts.size, 24);
    const expected = applied.length / 24;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 49.73, `chi2 ${chi2} (p = 0.001, 23 dof)`);
  });

  it("is null when every strength is zero", () => {
    assert.ok(sampleMany([op({ op: "colorJitter", p: 1 })], 20).every((v) => v.jitter === null));
  });
});

describe("blurKernelSize", () => {
  it("is the odd integer nearest 10% of the shorter output side (SimCLR), at least 3", () => {
    const k = (h: number, w = h) => blurKernelSize({}, { height: h, width: w });
    assert.deepEqual([k(224), k(96), k(100), k(64), k(32), k(20), k(224, 96)], [23, 9, 11, 7, 3, 3, 9]);
  });

  it("takes the op's kernel size, capped so reflect padding stays inside the image", () => {
    assert.equal(blurKernelSize({ kernelSize: 5 }, { height: 224, width: 224 }), 5);
    assert.equal(blurKernelSize({ kernelSize: 23 }, { height: 4, width: 9 }), 7);
    assert.equal(blurKernelSize({}, { height: 1, width: 1 }), 1);
  });
});

describe("sampleViewsForPoint", () => {
  const src = { height: 40, width: 30 };
  const out = { height: 16, width: 16 };

  it("returns 2K views for pairing 'views', using secondViewOps for odd views", () => {
    const views = sampleViewsForPoint(PRESETS.byol, "views", 3, "pt", 40, src, out);
    assert.equal(views.length, 80);
    const even = views.filter((_, i) => i % 2 === 0);
    const odd = views.filter((_, i) => i % 2 === 1);
    // BYOL: blur p = 1 / solarize p = 0 on the first view, blur p = 0.1 / solarize p = 0.2 on the second
    assert.ok(even.every((v) => v.blur !== null && v.solarize === null));
    assert.ok(odd.some((v) => v.solarize !== null));
    assert.ok(odd.some((v) => v.blur === null));
  });

  it("returns K+1 views for pairing 'original', view 0 the whole un-augmented image", () => {
    const views = sampleViewsForPoint(PRESETS.simclr, "original", 3, "pt", 5, src, out);
    assert.equal(views.length, 6);
    assert.deepEqual(views[0], { crop: { top: 0, left: 0, height: 40, width: 30 }, flip: false, jitter: null, grayscale: false, blur: null, solarize: null });
  });

  it("is reproducible, independent of K, and JSON-serializable", () => {
    const a = sampleViewsForPoint(PRESETS.simclr, "views", 11, "pt", 8, src, out);
    assert.deepEqual(sampleViewsForPoint(PRESETS.simclr, "views", 11, "pt", 8, src, out), a);
    assert.deepEqual(sampleViewsForPoint(PRESETS.simclr, "views", 11, "pt", 3, src, out), a.slice(0, 6));
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
    assert.notDeepEqual(sampleViewsForPoint(PRESETS.simclr, "views", 12, "pt", 8, src, out), a);
    assert.notDeepEqual(sampleViewsForPoint(PRESETS.simclr, "views", 11, "pt2", 8, src, out), a);
  });

  it("gives each op its own random numbers: re-tuning one op leaves the others' draws unchanged", () => {
    const base = sampleViewsForPoint(PRESETS.simclr, "views", 1, "pt", 10, src, out);
    const noJitter = AugmentationPolicySchema.parse({
      ops: PRESETS.simclr.ops.map((o) => (o.op === "colorJitter" ? { ...o, p: 0 } : o)),
    });
    const other = sampleViewsForPoint(noJitter, "views", 1, "pt", 10, src, out);
    assert.deepEqual(
      other.map((v) => [v.crop, v.flip, v.grayscale, v.blur]),
      base.map((v) => [v.crop, v.flip, v.grayscale, v.blur]),
    );
  });

  it("rejects invalid view counts and sizes with stable codes", () => {
    assert.throws(() => sampleViewsForPoint(PRESETS.mae, "views", 0, "p", 0, src, out), (e) => isSslmemError(e) && e.code === "invalid_config");
    assert.throws(() => sampleViewsForPoint(PRESETS.mae, "views", 0, "p", 2, { height: 0, width: 3 }, out), (e) => isSslmemError(e) && e.code === "image_invalid");
  });
});
