/** Interleaved 8-bit pixels with 1, 3 or 4 channels → RGB, with the same rules as image-decode.ts. */
import type { RgbImage } from "../core/image.ts";

export function interleavedToRgb(src: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): RgbImage {
  const n = width * height;
  if (src.length !== n * channels) throw new RangeError(`expected ${n * channels} bytes, got ${src.length}`);
  if (channels === 3) return { width, height, data: src };
  const data = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    const d = p * 3;
    if (channels === 1) {
      // Grey replicated, as PIL's convert("RGB") does.
      data[d] = data[d + 1] = data[d + 2] = src[s];
    } else {
      // Alpha dropped, not composited.
      data[d] = src[s];
      data[d + 1] = src[s + 1];
      data[d + 2] = src[s + 2];
    }
  }
  return { width, height, data };
}
