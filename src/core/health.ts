/**
 * Encoder health: does each encoder look trained for invariance, with the right preprocessing, and
 * does the reference look like a fair one? SSLMem compares two invariances; when one encoder is not
 * invariant at all (untrained, wrong normalization, wrong layout) the scores measure nothing, and
 * no flag or rank test can tell — so the audit measures it and says so.
 *
 * Thresholds were validated on the repository's fixtures (test/e2e/encoder-health.test.ts; figures
 * with the simclr preset, 32 sampled points): the trained SimCLR encoders with their own
 * normalization spread different images to a mean distance of 1.38 (√2 ≈ 1.41 is orthogonal), with
 * unnormalized [0,1] pixels to 0.80, with raw 0–255 pixels to 0.41, and randomly initialised
 * encoders to 0.13–0.19. The invariance ratio itself separates less (0.59–0.65 trained, 0.69–0.73
 * wrong normalization, 0.57–0.81 random under simclr's strong crops), so it warns only when an
 * encoder is plainly not invariant. Non-contrastive encoders (MAE, some BYOL/DINO exports) can have
 * less uniform embeddings: the spread warning is a prompt to check, and only --strict makes it fail.
 */
import { l2Distance } from "./distances.ts";

/** Above this invariance ratio an encoder does not look trained for invariance. */
export const MAX_INVARIANCE_RATIO = 0.9;
/** Below this mean distance between different images, embeddings look collapsed: untrained or wrongly preprocessed. */
export const MIN_IMAGE_DISTANCE = 1.0;
/** reference ÷ target mean alignment on the controls outside [1/x, x]: the encoders look unlike. */
export const MAX_ALIGNMENT_RATIO = 1.5;

export interface InvarianceStats {
  viewDistance: number;
  imageDistance: number;
  invarianceRatio: number;
}

/**
 * From embeddings of two augmented views per image (rows 2i and 2i + 1 belong to image i):
 * the mean distance between the two views of one image, the mean distance between views of
 * different images (view 0 of i against view 1 of i + 1, so both terms carry one augmentation
 * each), and their ratio. Needs at least two images.
 */
export function invarianceStats(rows: Float32Array, dim: number): InvarianceStats {
  const images = rows.length / dim / 2;
  if (!Number.isInteger(images) || images < 2) throw new RangeError("invarianceStats needs two views of at least two images");
  const row = (i: number) => rows.subarray(i * dim, (i + 1) * dim);
  let view = 0;
  let image = 0;
  for (let i = 0; i < images; i++) {
    view += l2Distance(row(2 * i), row(2 * i + 1));
    image += l2Distance(row(2 * i), row(2 * ((i + 1) % images) + 1));
  }
  const viewDistance = view / images;
  const imageDistance = image / images;
  return { viewDistance, imageDistance, invarianceRatio: imageDistance > 0 ? viewDistance / imageDistance : 1 };
}

/** The invariance of both encoders, measured on a sample of the audit's points. */
export interface EncoderHealthSample {
  sample: number;
  target: InvarianceStats;
  reference: InvarianceStats;
}

export interface AlignmentComparison {
  target: number;
  reference: number;
  ratio: number;
}

export function compareAlignments(alignTarget: readonly number[], alignReference: readonly number[]): AlignmentComparison | undefined {
  if (alignTarget.length === 0) return undefined;
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const target = mean(alignTarget);
  const reference = mean(alignReference);
  return { target, reference, ratio: target > 0 ? reference / target : Infinity };
}

/** The warnings a report shows (and --strict turns into an inconclusive audit). */
export function healthWarnings(target: InvarianceStats, reference: InvarianceStats, controls: AlignmentComparison | undefined): string[] {
  return [...encoderWarnings(target, reference), ...alignmentWarnings(controls)];
}

/** Warnings from the sample alone: known before the audit's long part. */
export function encoderWarnings(target: InvarianceStats, reference: InvarianceStats): string[] {
  const warnings: string[] = [];
  for (const [role, s] of [["target", target], ["reference", reference]] as const) {
    if (s.imageDistance < MIN_IMAGE_DISTANCE) {
      warnings.push(
        `the ${role} encoder maps different images close together (mean distance ${s.imageDistance.toFixed(2)} between normalized embeddings, below ${MIN_IMAGE_DISTANCE}; a trained SSL encoder with its own preprocessing spreads them towards √2 ≈ 1.41): ` +
          `the preprocessing looks wrong (--normalize, --mean/--std, --layout) or the encoder is untrained`,
      );
    }
    if (s.invarianceRatio > MAX_INVARIANCE_RATIO) {
      warnings.push(
        `the ${role} encoder does not look trained for invariance: views of one image are ${s.invarianceRatio.toFixed(2)}× as far apart as different images (above ${MAX_INVARIANCE_RATIO}); ` +
          `check its preprocessing (--normalize, --mean/--std, --layout) and the augmentation, or whether it is the trained model`,
      );
    }
  }
  return warnings;
}

/** Warnings from the controls' alignments: known once the controls are measured. */
export function alignmentWarnings(controls: AlignmentComparison | undefined): string[] {
  const warnings: string[] = [];
  if (controls && (controls.ratio > MAX_ALIGNMENT_RATIO || controls.ratio < 1 / MAX_ALIGNMENT_RATIO)) {
    warnings.push(
      `the reference looks unlike the target: on the controls (seen by neither) its mean alignment is ${controls.ratio.toFixed(2)}× the target's (outside ${(1 / MAX_ALIGNMENT_RATIO).toFixed(2)}–${MAX_ALIGNMENT_RATIO}); ` +
        `a fair reference has the target's architecture and training recipe on a disjoint split, so the scores may reflect the encoders' difference rather than memorization`,
    );
  }
  return warnings;
}
