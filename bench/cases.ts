/**
 * The three benchmark encoders of `npm run bench` (bench/audit.bench.ts) and the profile
 * (bench/pipeline-profile.bench.ts), with their input sizes, source image sizes and point counts.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { benchEncoder, CONV64, resnet18 } from "./encoders.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));

export interface BenchCase {
  name: string;
  size: number;
  source: number;
  points: number;
  models: () => { target: Uint8Array; reference: Uint8Array };
  preprocessing?: { mean: number[]; std: number[] };
}

const fixtureManifest = JSON.parse(readFileSync(join(root, "fixtures/manifest.json"), "utf8")) as { encoders: { normalization: { mean: number[]; std: number[] } } };

export const CASES: BenchCase[] = [
  {
    name: "fixture",
    size: 32,
    source: 32,
    points: 512,
    models: () => ({ target: readFileSync(join(root, "fixtures/encoders/target.onnx")), reference: readFileSync(join(root, "fixtures/encoders/reference.onnx")) }),
    preprocessing: { mean: fixtureManifest.encoders.normalization.mean, std: fixtureManifest.encoders.normalization.std },
  },
  { name: "conv64", size: 64, source: 80, points: 96, models: () => ({ target: benchEncoder({ ...CONV64, seed: 1 }), reference: benchEncoder({ ...CONV64, seed: 2 }) }) },
  { name: "resnet18", size: 224, source: 256, points: 12, models: () => ({ target: resnet18(1), reference: resnet18(2) }) },
];

/** `n` PNG files of random pixels, size×size, into a new directory `dir`. */
export async function writeImages(dir: string, n: number, size: number): Promise<void> {
  mkdirSync(dir);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    const data = Buffer.alloc(size * size * 3);
    for (let j = 0; j < data.length; j++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      data[j] = s >>> 24;
    }
    await sharp(data, { raw: { width: size, height: size, channels: 3 } }).png({ compressionLevel: 1 }).toFile(join(dir, `img-${String(i).padStart(5, "0")}.png`));
  }
}
