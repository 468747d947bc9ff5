/**
 * The batch pipeline: points → decoded images → seeded view parameters → augmentation graph →
 * both encoders on the same views → per-pair distances → per-point measurements.
 *
 * Memory is bounded by one batch (plus the decoded images of the next one, prefetched while the
 * encoders run), never by the number of points. Every random number of a view is keyed by
 * (seed, point id, view index), and each point's views go through the encoders as their own rows,
 * so a point's measurement does not depend on the batch size, the range or the order of points.
 */
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { PointRole, RgbImage } from "../core/image.ts";
import type { AugmentationPolicy } from "../core/policy.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import { measurePoint, pointDistances, viewsPerPoint } from "../core/sslmem.ts";
import { sampleViewsForPoint } from "../core/view-params.ts";
import type { PointSet } from "../data/point-set.ts";
import type { Augmenter } from "./augmenter.ts";
import type { Encoder } from "./encoder.ts";

/** One measured point with its global index (candidates first, then controls). */
export interface IndexedMeasurement extends PointMeasurement {
  index: number;
}

/** Candidates and controls as one index space: [0, C) candidates, [C, C+N) controls. */
export class PointCatalog {
  constructor(
    readonly candidates: PointSet,
    readonly controls?: PointSet,
  ) {}

  get size(): number {
    return this.candidates.size + (this.controls?.size ?? 0);
  }

  get candidateCount(): number {
    return this.candidates.size;
  }

  locate(index: number): { set: PointSet; local: number; role: PointRole } {
    if (index < this.candidates.size) return { set: this.candidates, local: index, role: "candidate" };
    if (this.controls && index < this.size) return { set: this.controls, local: index - this.candidates.size, role: "control" };
    throw new SslmemError("internal", `point index ${index} is out of range`);
  }

  id(index: number): string {
    const { set, local } = this.locate(index);
    return set.ids[local];
  }
}

export interface MeasureContext {
  config: AuditConfig;
  policy: AugmentationPolicy;
  target: Encoder;
  reference: Encoder;
  augmenter: Augmenter;
  catalog: PointCatalog;
}

export interface MeasureOptions {
  /** Global indices [from, to) to measure; default all. */
  from?: number;
  to?: number;
  /** Indices already measured (a resumed audit); they are not measured again. */
  skip?: (index: number) => boolean;
  signal?: AbortSignal;
  /**
   * Receives every batch's rows as soon as they are measured (to store them). With it, rows are
   * not also kept in memory: the caller owns them, and memory stays bounded by the batch.
   */
  onBatch?: (rows: IndexedMeasurement[]) => Promise<void>;
  /** Called after every batch: points done so far of the points this call measures. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Decoded pixels (width × height) one batch may hold: the batch ends early once its images
   * reach this, so `batchSize` images of 40 MP are never decoded at once. Default: no limit.
   */
  maxBatchPixels?: number;
}

interface LoadedPoint {
  index: number;
  id: string;
  role: PointRole;
  image: RgbImage;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new SslmemError("cancelled", "the audit was cancelled");
}

/** Images decoded at once while a batch is loaded (sharp runs them on libuv's pool). */
const DECODE_CONCURRENCY = 4;

/**
 * Decodes the points of `indices` (all at once without a pixel budget, else a few at a time) until the batch holds `maxPixels` decoded
 * pixels (at least one point); the points not loaded are returned, to start the next batch.
 */
async function loadBatch(catalog: PointCatalog, indices: number[], maxPixels: number): Promise<{ points: LoadedPoint[]; rest: number[] }> {
  const points: LoadedPoint[] = [];
  let pixels = 0;
  let i = 0;
  while (i < indices.length && (points.length === 0 || pixels < maxPixels)) {
    const chunk = maxPixels === Infinity ? indices.slice(i) : indices.slice(i, i + DECODE_CONCURRENCY);
    i += chunk.length;
    const loaded = await Promise.all(
      chunk.map(async (index) => {
        const { set, local, role } = catalog.locate(index);
        return { index, id: set.ids[local], role, image: await set.load(local) };
      }),
    );
    for (const p of loaded) pixels += p.image.width * p.image.height;
    points.push(...loaded);
  }
  return { points, rest: indices.slice(i) };
}

/**
 * Measures the points of [from, to) batch by batch. Returns the measurements in index order —
 * or nothing when `onBatch` receives them.
 */
export async function measurePoints(ctx: MeasureContext, options: MeasureOptions = {}): Promise<IndexedMeasurement[]> {
  const { config, catalog } = ctx;
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? catalog.size, catalog.size);
  const todo: number[] = [];
  for (let i = from; i < to; i++) if (!options.skip?.(i)) todo.push(i);
  const total = todo.length;
  const maxPixels = options.maxBatchPixels ?? Infinity;
  // A batch is batchSize points, fewer when their pixels reach maxPixels; the points it did not
  // load (`carry`) start the next one.
  let cursor = 0;
  let carry: number[] = [];
  const loadNext = () => {
    const take = config.batchSize - carry.length;
    const indices = carry.concat(todo.slice(cursor, cursor + take));
    cursor += take;
    carry = [];
    return indices.length ? loadBatch(catalog, indices, maxPixels) : undefined;
  };

  const out: IndexedMeasurement[] = [];
  const keep = !options.onBatch;
  // A batch whose views would not fit the memory budget is measured a few points at a time.
  const perChunk = pointsPerChunk(ctx);
  let done = 0;
  options.onProgress?.(0, total);
  let next = loadNext();
  while (next) {
    throwIfAborted(options.signal);
    const { points, rest } = await next;
    carry = rest;
    // Decode the next batch (sharp, on libuv's pool) while this one is augmented and embedded.
    next = loadNext();
    next?.catch(() => {}); // surfaced when awaited; avoid an unhandled rejection meanwhile
    const rows: IndexedMeasurement[] = [];
    for (let i = 0; i < points.length; i += perChunk) rows.push(...(await measureBatch(ctx, points.slice(i, i + perChunk), options.signal)));
    if (keep) out.push(...rows);
    else await options.onBatch!(rows);
    done += rows.length;
    options.onProgress?.(done, total);
  }
  return out;
}

/**
 * The views of one batch are held in one Float32Array for both encoders. Their size is
 * points × views × 3·H·W, which a legal config (e.g. 4096×4096 inputs) can push past any memory:
 * at most this many values are held at once.
 */
export const MAX_VIEW_VALUES = 2 ** 27; // 512 MiB of float32

/** Values the views of one point take (all of its 2K or K+1 views). */
export function viewValuesPerPoint(ctx: Pick<MeasureContext, "config" | "target">): number {
  return viewsPerPoint(ctx.config.views, ctx.config.pairing) * ctx.target.viewSize;
}

/** Refuses a config whose views of a single point exceed the memory budget, before any work. */
export function checkViewBudget(ctx: Pick<MeasureContext, "config" | "target">): void {
  const perPoint = viewValuesPerPoint(ctx);
  if (perPoint > MAX_VIEW_VALUES) {
    const mib = Math.round((perPoint * 4) / 2 ** 20);
    throw new SslmemError(
      "invalid_config",
      `the views of one point would take ${mib} MiB (views × 3 × input height × width); use fewer views or a smaller input size`,
    );
  }
}

function pointsPerChunk(ctx: MeasureContext): number {
  return Math.max(1, Math.min(ctx.config.batchSize, Math.floor(MAX_VIEW_VALUES / viewValuesPerPoint(ctx))));
}

async function measureBatch(ctx: MeasureContext, points: LoadedPoint[], signal?: AbortSignal): Promise<IndexedMeasurement[]> {
  const { config, policy, target, reference, augmenter } = ctx;
  const perPoint = viewsPerPoint(config.views, config.pairing);
  const viewSize = target.viewSize;
  const views = new Float32Array(points.length * perPoint * viewSize);
  const out = { height: target.preprocessing.height, width: target.preprocessing.width };
  for (let p = 0; p < points.length; p++) {
    throwIfAborted(signal);
    const { id, image } = points[p];
    const params = sampleViewsForPoint(policy, config.pairing, config.seed, id, config.views, { height: image.height, width: image.width }, out);
    views.set(await augmenter.run(image, params), p * perPoint * viewSize);
  }
  throwIfAborted(signal);
  const n = points.length * perPoint;
  const embT = await target.embed(views, n);
  throwIfAborted(signal);
  const embR = await reference.embed(views, n);
  return points.map((point, p) => {
    const slice = (e: { data: Float32Array; dim: number }) => ({
      data: e.data.subarray(p * perPoint * e.dim, (p + 1) * perPoint * e.dim),
      dim: e.dim,
    });
    const { dTarget, dReference } = pointDistances(slice(embT), slice(embR), config.pairing, config.distance);
    return { index: point.index, ...measurePoint(point.id, point.role, dTarget, dReference) };
  });
}
