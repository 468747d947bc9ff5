/**
 * The planted-unit model of the UnitMem tests: a 1×1 conv whose channel 0 computes relu(R − G − B
 * − 0.3) — it fires on a pure red image and hardly on random noise — beside random channels, and
 * a candidate set of random images with one red image (index RED).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { GraphBuilder, floatTensor } from "../../src/engine/onnx/builder.ts";
import { tempDir } from "./audit-inputs.ts";
import { writeNpy } from "./data-npy.ts";
import { seededRandom, uniform } from "./tiny-encoders.ts";

export const SIZE = 16;
export const CHANNELS = 6;
export const POINTS = 16;
export const RED = 5;

/** images [N,3,16,16] → Conv1×1 (channel 0 planted) → Relu "features" → GAP → "embedding" [N,6]. */
export function plantedUnitModel(): Uint8Array {
  const g = new GraphBuilder("planted");
  const x = g.input("images", "float", ["N", 3, SIZE, SIZE]);
  const w = uniform(3, CHANNELS * 3, 0.5);
  w.set([1, -1, -1], 0);
  // The random channels get a positive bias so they respond to every image: a unit that is dead
  // except on one image would (rightly) score UnitMem 1 too, and compete with the planted one.
  const b = uniform(4, CHANNELS, 0.05).map((v) => v + 0.5);
  b[0] = -0.3;
  g.initializer(floatTensor("w", w, [CHANNELS, 3, 1, 1]));
  g.initializer(floatTensor("b", b, [CHANNELS]));
  const conv = g.op1("Conv", [x, "w", "b"], {}, "conv");
  g.op1("Relu", [conv], {}, "features");
  const pooled = g.op1("GlobalAveragePool", ["features"]);
  g.op1("Flatten", [pooled], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", CHANNELS]);
  return g.toModelBytes({ opset: 17 });
}

/** The candidates as .npy bytes: POINTS random images, the RED one pure red. */
export function plantedCandidatesNpy(): Uint8Array {
  const rand = seededRandom(9);
  const data = new Uint8Array(POINTS * SIZE * SIZE * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  for (let p = 0; p < SIZE * SIZE; p++) data.set([255, 0, 0], (RED * SIZE * SIZE + p) * 3);
  return writeNpy({ shape: [POINTS, SIZE, SIZE, 3], data });
}

/** The candidates written to a temp .npy file; returns its path. */
export function plantedCandidatesFile(): string {
  const path = join(tempDir(), "points.npy");
  writeFileSync(path, plantedCandidatesNpy());
  return path;
}

