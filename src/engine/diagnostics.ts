/**
 * Encoder health diagnostics of an audit, on a sample of its points: the invariance ratio of each
 * encoder (two augmented views per sampled image, through the audit's own pipeline).
 * Built on the engine's public pieces (the audit's batch pipeline with representations on request,
 * view sampling); it uses a seed of its own so the audit's views are unchanged.
 */
import { invarianceStats, type EncoderHealthSample } from "../core/health.ts";
import { sampleViewsForPoint } from "../core/view-params.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { PreparedAudit } from "./audit.ts";
import type { BatchDistances, PointViews } from "./batch-pipeline.ts";
import { pointsPerChunk } from "./measure.ts";
import { measurePeak } from "./memory.ts";

/** Points the invariance ratio is measured on: enough for a stable mean, cheap next to the audit. */
export const HEALTH_SAMPLE = 32;
const HEALTH_SEED_OFFSET = 0x5eed;

/** Evenly spaced indices over the catalog (candidates and controls), at most `n`. */
function sampleIndices(size: number, n: number): number[] {
  const k = Math.min(size, n);
  return Array.from({ length: k }, (_, i) => Math.floor((i * size) / k));
}

export async function measureEncoderHealth(prepared: PreparedAudit, n: number = HEALTH_SAMPLE): Promise<EncoderHealthSample | undefined> {
  const { context } = prepared;
  const { catalog, policy, config, target, pipeline } = context;
  const indices = sampleIndices(catalog.size, n);
  if (indices.length < 2) return undefined;
  const out = { height: target.preprocessing.height, width: target.preprocessing.width };
  const perPoint = viewsPerPoint(config.views, config.pairing);
  // The pipeline is built for the audit's views per point, so each sampled image gets that many
  // (under a seed of its own); the diagnostics use the first two of each image's views.
  const pairs: { target: Float32Array[]; reference: Float32Array[] } = { target: [], reference: [] };
  let dims = { target: 0, reference: 0 };
  // Batches as the audit's own (measure.ts): the memory planner's sizes — its probe, when the
  // health sample runs before the audit's first batch, as in the CLI — else the configured size.
  const planner = context.memory;
  let from = 0;
  while (from < indices.length) {
    const size = planner?.nextSize() ?? pointsPerChunk(context);
    const chunk = indices.slice(from, from + size);
    from += chunk.length;
    const batch: PointViews[] = [];
    for (const index of chunk) {
      const { set, local } = catalog.locate(index);
      let image;
      try {
        image = await set.load(local);
      } catch {
        continue; // an unreadable image is the run's business, not the diagnostics'
      }
      const views = sampleViewsForPoint(policy, config.pairing, (config.seed + HEALTH_SEED_OFFSET) >>> 0, set.ids[local], config.views, { height: image.height, width: image.width }, out);
      batch.push({ image, views });
    }
    if (batch.length === 0) continue;
    const run = (memoryProbe: boolean) => pipeline.run(batch, { representations: true, memoryProbe });
    let result: BatchDistances;
    if (planner?.probing) {
      const measured = await measurePeak(() => run(true));
      planner.record(batch.length, measured);
      result = measured.value;
    } else {
      result = await run(false);
    }
    const { representations } = result;
    if (!representations) return undefined;
    dims = { target: representations.target.dim, reference: representations.reference.dim };
    for (const side of ["target", "reference"] as const) {
      const { data, dim } = representations[side];
      for (let p = 0; p < batch.length; p++) pairs[side].push(data.subarray(p * perPoint * dim, (p * perPoint + 2) * dim));
    }
  }
  const loaded = pairs.target.length;
  if (loaded < 2) return undefined;
  const rows = (side: "target" | "reference") => {
    const all = new Float32Array(loaded * 2 * dims[side]);
    pairs[side].forEach((r, i) => all.set(r, i * 2 * dims[side]));
    return all;
  };
  return { sample: loaded, target: invarianceStats(rows("target"), dims.target), reference: invarianceStats(rows("reference"), dims.reference) };
}
