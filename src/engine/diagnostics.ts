/**
 * Encoder health diagnostics of an audit, on a sample of its points: the invariance ratio of each
 * encoder (two augmented views per sampled image, through the audit's own pipeline).
 * Built on the engine's public pieces (the audit's batch pipeline, which returns representations
 * of views that need not form points, and view sampling); it uses a seed of its own so the
 * audit's views are unchanged.
 */
import { invarianceStats, type EncoderHealthSample } from "../core/health.ts";
import { sampleViewsForPoint } from "../core/view-params.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { PreparedAudit } from "./audit.ts";
import type { PointViews } from "./batch-pipeline.ts";
import { pointsPerChunk } from "./measure.ts";

/** Points the invariance ratio is measured on: enough for a stable mean, cheap next to the audit. */
export const HEALTH_SAMPLE = 32;
/** Added to the audit's seed for the health sample's views, so the audit's own views are unchanged. */
export const HEALTH_SEED_OFFSET = 0x5eed;
/** Views of each sampled image the diagnostics run: the first two the image's sampling gives. */
const HEALTH_VIEWS = 2;
/**
 * Decoded pixels one health run holds at most (it holds at least one image): a run holds many
 * images, two views each, where an audit batch holds one image per point.
 */
export const HEALTH_RUN_PIXELS = 2 ** 22;

export interface HealthOptions {
  /** Decoded pixels one run holds at most (default HEALTH_RUN_PIXELS). */
  maxRunPixels?: number;
}

/** Evenly spaced indices over the catalog (candidates and controls), at most `n`. */
function sampleIndices(size: number, n: number): number[] {
  const k = Math.min(size, n);
  return Array.from({ length: k }, (_, i) => Math.floor((i * size) / k));
}

export async function measureEncoderHealth(prepared: PreparedAudit, n: number = HEALTH_SAMPLE, options: HealthOptions = {}): Promise<EncoderHealthSample | undefined> {
  const { context } = prepared;
  const { catalog, policy, config, target, pipeline } = context;
  const indices = sampleIndices(catalog.size, n);
  if (indices.length < 2) return undefined;
  const out = { height: target.preprocessing.height, width: target.preprocessing.width };
  const maxRunPixels = options.maxRunPixels ?? HEALTH_RUN_PIXELS;
  // Each sampled image's views are sampled as the audit's would be (its views per point, under a
  // seed of its own) and its first two run: the encoders see 2 views an image, not the audit's 2K.
  const pairs: { target: Float32Array[]; reference: Float32Array[] } = { target: [], reference: [] };
  let dims = { target: 0, reference: 0 };
  // A run holds as many views as one of the audit's batches: the memory plan's points (one point's
  // while the audit's memory probe has not run yet: the health sample runs first in the CLI, in
  // the probe's session, so that no arena grows before the probe) × views per point.
  const planner = context.memory;
  const probing = planner?.probing === true;
  const points = probing ? 1 : (planner?.nextSize() ?? pointsPerChunk(context));
  const imagesPerRun = Math.max(1, Math.floor((points * viewsPerPoint(config.views, config.pairing)) / HEALTH_VIEWS));
  let next = 0;
  while (next < indices.length) {
    const batch: PointViews[] = [];
    let pixels = 0;
    while (next < indices.length && batch.length < imagesPerRun && (batch.length === 0 || pixels < maxRunPixels)) {
      const { set, local } = catalog.locate(indices[next++]);
      let image;
      try {
        image = await set.load(local);
      } catch {
        continue; // an unreadable image is the run's business, not the diagnostics'
      }
      pixels += image.width * image.height;
      const views = sampleViewsForPoint(policy, config.pairing, (config.seed + HEALTH_SEED_OFFSET) >>> 0, set.ids[local], config.views, { height: image.height, width: image.width }, out);
      batch.push({ image, views: views.slice(0, HEALTH_VIEWS) });
    }
    if (batch.length === 0) continue;
    const representations = await pipeline.represent(batch, { memoryProbe: probing });
    dims = { target: representations.target.dim, reference: representations.reference.dim };
    for (const side of ["target", "reference"] as const) {
      const { data, dim } = representations[side];
      for (let p = 0; p < batch.length; p++) pairs[side].push(data.subarray(p * HEALTH_VIEWS * dim, (p + 1) * HEALTH_VIEWS * dim));
    }
  }
  const loaded = pairs.target.length;
  if (loaded < 2) return undefined;
  const rows = (side: "target" | "reference") => {
    const all = new Float32Array(loaded * HEALTH_VIEWS * dims[side]);
    pairs[side].forEach((r, i) => all.set(r, i * HEALTH_VIEWS * dims[side]));
    return all;
  };
  return { sample: loaded, target: invarianceStats(rows("target"), dims.target), reference: invarianceStats(rows("reference"), dims.reference) };
}
