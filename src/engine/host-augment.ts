/**
 * The augmentation on the host CPU (native/augment.cc, a Node-API addon built by `npm ci`): for the
 * cpu provider (and small views on a GPU one), a batch's views are made here, one view at a time
 * through only the stages it uses, and the composed graph takes the views as its input
 * (fused-graph.ts, `hostViews`). The graph's augmentation (augment-graph.ts) takes every view of a
 * batch through every stage the policy may use, each stage a pass over all of the batch's views:
 * on a CPU that traffic, not arithmetic, was what the small encoders' audits paid beyond their
 * encoders (README, benchmarks). On a GPU the graph keeps large views on the device; small ones
 * are made here too (batch-pipeline.ts, defaultAugmentSite).
 *
 * Same function as the graph and the reference (src/core/augment-reference.ts): the tests hold all
 * three together on every preset and layout.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { GRAY_WEIGHTS, gaussianKernel1d } from "../core/augment-reference.ts";
import { SslmemError } from "../core/errors.ts";
import { normalizationAffine } from "../core/normalization.ts";
import { JITTER_BRIGHTNESS, JITTER_CONTRAST, JITTER_HUE, JITTER_SATURATION } from "../core/view-params.ts";
import type { PackingArrays } from "./array-pool.ts";
import { checkCrop, packSources, type AugmentGraphOptions, type PackedInput, type SourceViews } from "./augment-graph.ts";

/** The composed graph's input of host-made views (fused-graph.ts). */
export const HOST_VIEWS_INPUT = "views";

/** Per view: source, flip, jitter order ×4, grayscale, blur kernel size, solarize, crop ×4. */
const INTS = 13;
/** Per view: brightness, contrast, saturation, hue (at their jitter op codes), solarize threshold. */
const FLOATS = 5;

interface Addon {
  augment(
    sources: Uint8Array,
    sourceSizes: Int32Array,
    ints: Int32Array,
    floats: Float32Array,
    taps: Float32Array,
    out: Float32Array,
    size: Int32Array,
    constants: Float32Array,
  ): void;
}

/** Where the addon is, from src/engine/ and dist/engine/ alike. */
const ADDON_PATH = fileURLToPath(new URL("../../native/build/Release/sslmem_augment.node", import.meta.url));

/** The addon, or why it cannot be used. */
export type HostAugmentation = { addon: Addon } | { reason: string };

let loaded: HostAugmentation | undefined;

/** The addon, or why it cannot be used (not built here, or built for another platform); loaded once. */
export function hostAugmentation(): HostAugmentation {
  loaded ??= loadAddon(ADDON_PATH);
  return loaded;
}

/** Loads the addon at `path`, or says why it cannot be used (exported for tests). */
export function loadAddon(path: string): HostAugmentation {
  try {
    const module: unknown = createRequire(import.meta.url)(path);
    return isAddon(module) ? { addon: module } : { reason: "the host augmentation addon exports no augment function" };
  } catch (e) {
    const missing = e instanceof Error && "code" in e && e.code === "MODULE_NOT_FOUND";
    // No path or loader message goes out (they can end up in reports): what is known, in words.
    return { reason: missing ? "the host augmentation addon is not built (npm ci builds it with node-gyp)" : "the host augmentation addon did not load on this machine" };
  }
}

function isAddon(value: unknown): value is Addon {
  return typeof value === "object" && value !== null && "augment" in value && typeof value.augment === "function";
}

/** The addon's constants: the normalization's scale and offset per channel, then the grey weights. */
export function addonConstants(opts: Pick<AugmentGraphOptions, "mean" | "std" | "range">): Float32Array {
  const { scale, offset } = normalizationAffine(opts);
  return Float32Array.from([...scale, ...offset, ...GRAY_WEIGHTS]);
}

/**
 * A batch's views made on the host: { views: float32 [V,3,oh,ow] (NCHW) or [V,oh,ow,3] (NHWC) },
 * in the batch's order of views, into arrays from `arrays`.
 */
export function packHostViews(opts: AugmentGraphOptions, batch: readonly SourceViews[], arrays: PackingArrays): Record<string, PackedInput> {
  const host = hostAugmentation();
  if ("reason" in host) throw new SslmemError("internal", host.reason);
  const { height: oh, width: ow } = opts.out;
  const { data: sources, S, V, Hmax, Wmax } = packSources(batch, arrays);
  const sourceSizes = arrays.int32(S * 4, "overwritten");
  batch.forEach(({ image }, s) => sourceSizes.set([image.height, image.width, Hmax, Wmax], s * 4));
  let kmax = 0;
  for (const { views } of batch) for (const view of views) kmax = Math.max(kmax, view.blur?.kernelSize ?? 0);
  const ints = arrays.int32(V * INTS, "overwritten");
  const floats = arrays.float32(V * FLOATS, "overwritten");
  const taps = arrays.float32(V * kmax, "overwritten");
  let v = 0;
  batch.forEach(({ image, views }, s) => {
    for (const view of views) {
      checkCrop(view, image);
      const j = view.jitter;
      const order = j ? j.order : [];
      const at = v * INTS;
      ints[at] = s;
      ints[at + 1] = view.flip ? 1 : 0;
      for (let i = 0; i < 4; i++) ints[at + 2 + i] = i < order.length ? order[i] : -1;
      ints[at + 6] = view.grayscale ? 1 : 0;
      const k = view.blur?.kernelSize ?? 0;
      if (view.blur && (!Number.isInteger(k) || k % 2 !== 1)) throw new SslmemError("internal", `blur kernel size must be odd, got ${k}`);
      ints[at + 7] = k;
      ints[at + 8] = view.solarize ? 1 : 0;
      ints[at + 9] = view.crop.top;
      ints[at + 10] = view.crop.left;
      ints[at + 11] = view.crop.height;
      ints[at + 12] = view.crop.width;
      const f = v * FLOATS;
      // The addon reads a jitter op's factor at the op's code (view-params.ts, JITTER_*).
      floats[f + JITTER_BRIGHTNESS] = j ? j.brightness : 1;
      floats[f + JITTER_CONTRAST] = j ? j.contrast : 1;
      floats[f + JITTER_SATURATION] = j ? j.saturation : 1;
      floats[f + JITTER_HUE] = j ? j.hue : 0;
      floats[f + 4] = view.solarize ? view.solarize.threshold : 2;
      if (view.blur) taps.set(gaussianKernel1d(k, view.blur.sigma), v * kmax);
      v++;
    }
  });
  const views = arrays.float32(V * 3 * oh * ow, "overwritten");
  const size = Int32Array.of(oh, ow, opts.layout === "NHWC" ? 1 : 0, kmax);
  try {
    host.addon.augment(sources, sourceSizes, ints, floats, taps, views, size, addonConstants(opts));
  } finally {
    arrays.give?.([sources, sourceSizes, ints, floats, taps]);
  }
  return { [HOST_VIEWS_INPUT]: { type: "float32", data: views, dims: opts.layout === "NHWC" ? [V, oh, ow, 3] : [V, 3, oh, ow] } };
}
