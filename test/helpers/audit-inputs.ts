/** Small, real audit inputs for engine/CLI tests: random-image .npy sets and tiny conv encoders. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNpy } from "./data-npy.ts";
import { convNet, seededRandom } from "./tiny-encoders.ts";

export function tempDir(prefix = "sslmem-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** N random RGB images of h×w as a .npy file; returns its path. */
export function writeRandomNpy(dir: string, name: string, n: number, h: number, w: number, seed: number): string {
  const rand = seededRandom(seed);
  const data = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  const path = join(dir, name);
  writeFileSync(path, writeNpy({ shape: [n, h, w, 3], data }));
  return path;
}

/** Two different tiny conv encoders on 16×16 inputs, written as target.onnx / reference.onnx. */
export function writeTinyEncoderPair(dir: string, size = 16): { target: string; reference: string; targetBytes: Uint8Array; referenceBytes: Uint8Array } {
  const targetBytes = convNet({ seed: 11, height: size, width: size, widths: [8, 16], dim: 12 });
  const referenceBytes = convNet({ seed: 23, height: size, width: size, widths: [8, 16], dim: 12 });
  const target = join(dir, "target.onnx");
  const reference = join(dir, "reference.onnx");
  writeFileSync(target, targetBytes);
  writeFileSync(reference, referenceBytes);
  return { target, reference, targetBytes, referenceBytes };
}
