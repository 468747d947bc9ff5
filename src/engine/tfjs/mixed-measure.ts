/**
 * The chained measurement for encoders that are not both ONNX (a TF.js encoder on either side, or
 * both): the same seeded view parameters; each encoder's views made on its own runtime — a TF.js
 * encoder's with tf ops on the TF.js backend (tf-augment.ts; they stay there until the model runs),
 * any other's by the ONNX augmentation graph in its layout — both held to the TypeScript reference;
 * each encoder's embeddings on the host, and the estimator of core/sslmem.ts. A point's measurement
 * does not depend on the batch, as in the composed pipeline.
 */
import type * as ort from "onnxruntime-node";
import type { AuditConfig } from "../../core/audit-config.ts";
import type { AugmentationPolicy } from "../../core/policy.ts";
import type { PointMeasurement } from "../../core/scores.types.ts";
import { measurePoint, pairDistances, viewsPerPoint } from "../../core/sslmem.ts";
import type { PointRole, RgbImage } from "../../core/image.ts";
import { sampleViewsForPoint, type ViewParams } from "../../core/view-params.ts";
import type { PointSet } from "../../data/point-set.ts";
import { Augmenter, augmentGraphOptions } from "../augmenter.ts";
import type { Layout } from "../encoder.ts";
import { TfAugmenter } from "./tf-augment.ts";
import { TfjsEncoder } from "./tfjs-encoder.ts";

/** What the chained measurement needs of an encoder, whatever its format. */
export interface ViewEncoder {
  readonly layout: Layout;
  embed(views: Float32Array, n: number): Promise<{ data: Float32Array; dim: number }>;
}

export interface MixedMeasureOptions {
  config: Pick<AuditConfig, "views" | "pairing" | "distance" | "seed" | "batchSize">;
  policy: AugmentationPolicy;
  preprocessing: { height: number; width: number; mean: [number, number, number]; std: [number, number, number]; range: [number, number] };
  target: ViewEncoder;
  reference: ViewEncoder;
  executionProviders: readonly ort.InferenceSession.ExecutionProviderConfig[];
}

/** What made an encoder's views: tf ops on the TF.js backend, or the ONNX augmentation graph. */
export function viewsMadeBy(encoder: ViewEncoder): "tfjs" | "onnxruntime" {
  return encoder instanceof TfjsEncoder ? "tfjs" : "onnxruntime";
}

/** A measured point with its index in the audit (candidates first, then controls). */
export type IndexedRow = PointMeasurement & { index: number };

/** For the service: where the set starts in the audit's index space, what is measured already, where rows go. */
export interface MixedMeasureHooks {
  offset?: number;
  skip?: (index: number) => boolean;
  /** Receives each batch's rows (then measureMixed returns none). */
  onBatch?: (rows: IndexedRow[]) => Promise<void>;
  signal?: AbortSignal;
}

export async function measureMixed(points: PointSet, opts: MixedMeasureOptions, role: PointRole = "candidate", hooks: MixedMeasureHooks = {}): Promise<IndexedRow[]> {
  const offset = hooks.offset ?? 0;
  const { config, policy, preprocessing: prep } = opts;
  const out = { height: prep.height, width: prep.width };
  const augmenters = new Map<Layout, Augmenter>();
  const augmenterFor = (layout: Layout) => {
    let a = augmenters.get(layout);
    if (!a) {
      a = Augmenter.fromGraph(augmentGraphOptions({ policy, out, layout, mean: prep.mean, std: prep.std, range: prep.range }), [...opts.executionProviders]);
      augmenters.set(layout, a);
    }
    return a;
  };
  let tfAugmenter: Promise<TfAugmenter> | undefined;
  const embed = async (encoder: ViewEncoder, batch: { image: RgbImage; views: ViewParams[] }[], n: number) => {
    if (!(encoder instanceof TfjsEncoder)) return encoder.embed(await augmenterFor(encoder.layout).runBatch(batch), n);
    tfAugmenter ??= TfAugmenter.create({ out, mean: prep.mean, std: prep.std, range: prep.range });
    const views = (await tfAugmenter).run(batch);
    try {
      return await encoder.embedTensor(views);
    } finally {
      views.dispose();
    }
  };
  const perPoint = viewsPerPoint(config.views, config.pairing);
  const results: IndexedRow[] = [];
  const todo = Array.from({ length: points.size }, (_, i) => i).filter((i) => !hooks.skip?.(offset + i));
  try {
    for (let start = 0; start < todo.length; start += config.batchSize) {
      hooks.signal?.throwIfAborted();
      const indices = todo.slice(start, start + config.batchSize);
      const batch = await Promise.all(
        indices.map(async (i) => {
          const image = await points.load(i);
          return { image, views: sampleViewsForPoint(policy, config.pairing, config.seed, points.ids[i], config.views, { height: image.height, width: image.width }, out) };
        }),
      );
      const n = batch.length * perPoint;
      const embT = await embed(opts.target, batch, n);
      const embR = await embed(opts.reference, batch, n);
      const rows = (e: { data: Float32Array; dim: number }, p: number) => ({ data: e.data.subarray(p * perPoint * e.dim, (p + 1) * perPoint * e.dim), dim: e.dim });
      const measured = indices.map((i, p) => {
        const dT = pairDistances(rows(embT, p), config.pairing, config.distance);
        const dR = pairDistances(rows(embR, p), config.pairing, config.distance);
        return { ...measurePoint(points.ids[i], role, dT, dR), index: offset + i };
      });
      if (hooks.onBatch) await hooks.onBatch(measured);
      else results.push(...measured);
    }
    return results;
  } finally {
    for (const a of augmenters.values()) await a.release();
  }
}
