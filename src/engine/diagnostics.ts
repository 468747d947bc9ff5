/**
 * Encoder health diagnostics of an audit, on a sample of its points: the invariance ratio of each
 * encoder (two augmented views per sampled image, through the audit's own augmenter and encoders).
 * Built on the engine's public pieces (augmenter, encoders, view sampling); it does not touch the
 * measurement pipeline, and it uses a seed of its own so the audit's views are unchanged.
 */
import { invarianceStats, type EncoderHealthSample } from "../core/health.ts";
import { sampleViewsForPoint } from "../core/view-params.ts";
import type { PreparedAudit } from "./audit.ts";

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
  const { catalog, policy, config, target, reference, augmenter } = context;
  const indices = sampleIndices(catalog.size, n);
  if (indices.length < 2) return undefined;
  const out = { height: target.preprocessing.height, width: target.preprocessing.width };
  const views = new Float32Array(indices.length * 2 * target.viewSize);
  let loaded = 0;
  for (const index of indices) {
    const { set, local } = catalog.locate(index);
    let image;
    try {
      image = await set.load(local);
    } catch {
      continue; // an unreadable image is the run's business, not the diagnostics'
    }
    const params = sampleViewsForPoint(policy, "views", (config.seed + HEALTH_SEED_OFFSET) >>> 0, set.ids[local], 1, { height: image.height, width: image.width }, out);
    views.set(await augmenter.run(image, params), loaded * 2 * target.viewSize);
    loaded++;
  }
  if (loaded < 2) return undefined;
  const used = views.subarray(0, loaded * 2 * target.viewSize);
  const t = await target.embed(used, loaded * 2);
  const r = await reference.embed(used, loaded * 2);
  return { sample: loaded, target: invarianceStats(t.data, t.dim), reference: invarianceStats(r.data, r.dim) };
}
