/** Images, views and comparisons shared by the augmentation tests. */
import type { RgbImage } from "../../src/core/image.ts";
import { viewStream } from "../../src/core/rng.ts";
import { identityView, type Size, type ViewParams } from "../../src/core/view-params.ts";

/** A deterministic image with independent uniform 8-bit pixels (the hardest case for resampling). */
export function noiseImage(height: number, width: number, seed = 1): RgbImage {
  const rng = viewStream(seed, "test-image", 0);
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.randint(256);
  return { height, width, data };
}

/** An image with pixel values given by a function of (y, x, channel). */
export function imageFrom(height: number, width: number, value: (y: number, x: number, c: number) => number): RgbImage {
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = value(y, x, c);
  return { height, width, data };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The identity view of `src` with some fields replaced. */
export function viewWith(src: Size, patch: Partial<ViewParams>): ViewParams {
  return { ...identityView(src), ...patch };
}

/** Channel-major [3,H,W] → channel-last [H,W,3]. */
export function toHwc(chw: Float32Array, size: Size): Float32Array {
  const plane = size.height * size.width;
  const out = new Float32Array(chw.length);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = chw[c * plane + i];
  return out;
}
