/**
 * The cases of the score-regression test (pipeline-scores.test.ts): every augmentation preset,
 * both pairings, both distances, the three representation kinds ([N,D], tokens with mean/cls,
 * feature maps) and an NHWC encoder, on candidates and controls of different image sizes (so a
 * batch packs sources of two sizes). make-golden.ts measured them with the per-point pipeline
 * as it was before the fused one-pass pipeline (commit 8a88577) and wrote golden.json.
 */
import type { AuditConfigInput } from "../../../src/core/audit-config.ts";
import { convNet, featureMapEncoder, tokenEncoder, convEncoder } from "../../helpers/tiny-encoders.ts";
import { writeRandomNpy } from "../../helpers/audit-inputs.ts";

export interface PipelineCase {
  name: string;
  config: AuditConfigInput;
  encoders: () => { target: Uint8Array; reference: Uint8Array };
}

const conv = () => ({
  target: convNet({ seed: 11, height: 16, width: 16, widths: [8, 16], dim: 12 }),
  reference: convNet({ seed: 23, height: 16, width: 16, widths: [8, 16], dim: 12 }),
});

export const PIPELINE_CASES: PipelineCase[] = [
  ...(["simclr", "byol", "dino-global", "mae", "none"] as const).map((augment): PipelineCase => ({ name: `${augment} views l2`, config: { augment, views: 4, seed: 3 }, encoders: conv })),
  { name: "simclr original cosine", config: { augment: "simclr", views: 3, seed: 5, pairing: "original" as const, distance: "cosine" as const }, encoders: conv },
  { name: "byol views cosine", config: { augment: "byol", views: 2, seed: 9, distance: "cosine" as const }, encoders: conv },
  {
    name: "tokens mean, normalized input",
    config: { augment: "simclr", views: 3, seed: 2, pool: "mean", preprocessing: { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] } },
    encoders: () => ({ target: tokenEncoder({ seed: 2 }).bytes, reference: tokenEncoder({ seed: 4 }).bytes }),
  },
  {
    name: "tokens cls",
    config: { augment: "dino-global", views: 2, seed: 4, pool: "cls" },
    encoders: () => ({ target: tokenEncoder({ seed: 6 }).bytes, reference: tokenEncoder({ seed: 8 }).bytes }),
  },
  {
    name: "feature map flatten, range 0..255",
    config: { augment: "simclr", views: 2, seed: 6, preprocessing: { range: [0, 255] } },
    encoders: () => ({ target: featureMapEncoder({ seed: 3 }).bytes, reference: featureMapEncoder({ seed: 5 }).bytes }),
  },
  {
    name: "NHWC input",
    config: { augment: "byol", views: 3, seed: 8 },
    encoders: () => ({ target: convEncoder({ seed: 1, layout: "NHWC" }).bytes, reference: convEncoder({ seed: 7, layout: "NHWC" }).bytes }),
  },
];

/** 5 candidates of 20×24 and 3 controls of 18×18 (random pixels, fixed seeds). */
export function writePipelineInputs(dir: string): { candidates: string; controls: string } {
  return {
    candidates: writeRandomNpy(dir, "candidates.npy", 5, 20, 24, 3),
    controls: writeRandomNpy(dir, "controls.npy", 3, 18, 18, 4),
  };
}
