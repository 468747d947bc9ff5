/**
 * Audit inputs for the real engine as bytes, ready to upload: tiny conv encoders and candidate
 * sets (.npy of random images, or a tar of PNGs with chosen file names).
 */
import { writeNpy } from "./data-npy.ts";
import { encodeRgb } from "./data-png.ts";
import { writeTar } from "./data-tar.ts";
import { convNet, seededRandom } from "./tiny-encoders.ts";

export function tinyEncoderPair(size = 16): { target: Uint8Array; reference: Uint8Array } {
  return {
    target: convNet({ seed: 11, height: size, width: size, widths: [8, 16], dim: 12 }),
    reference: convNet({ seed: 23, height: size, width: size, widths: [8, 16], dim: 12 }),
  };
}

/** n random RGB images of size×size as .npy bytes (point ids are the row numbers). */
export function randomNpy(n: number, size: number, seed: number): Buffer {
  const rand = seededRandom(seed);
  const data = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return writeNpy({ shape: [n, size, size, 3], data });
}

/** A tar of random PNGs named `names` (point ids are the member paths). */
export async function pngTar(names: readonly string[], size: number, seed: number): Promise<Buffer> {
  const rand = seededRandom(seed);
  const entries = [];
  for (const name of names) {
    const rgb = Array.from({ length: size * size * 3 }, () => Math.floor(rand() * 256));
    entries.push({ name, data: await encodeRgb(size, size, rgb, "png") });
  }
  return writeTar(entries);
}
