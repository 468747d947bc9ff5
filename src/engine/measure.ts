/**
 * The audit loop: points → decoded images → seeded view parameters → one run of the batch
 * pipeline (batch-pipeline.ts: augmentation, both encoders on the same views, per-pair distances,
 * on the execution provider) → per-point measurements.
 *
 * Memory is bounded by one batch (plus the next one, decoded, sampled and packed ahead — with a
 * staging thread also the decoded images of the one after), never by the number of points.
 * onnxruntime-node's `run` holds the main thread while a batch runs, so the next batch is staged
 * before the run starts (as far as its files are read) or after it ends — unless a staging thread
 * (staging.ts; on GPU providers) samples and packs it meanwhile; the files of a folder are read on
 * a worker thread meanwhile (data/regular-file.ts). Every random number of a view is keyed by
 * (seed, point id, view index), and each point's views go through the encoders as their own rows,
 * so a point's measurement does not depend on the batch size, the range or the order of points.
 */
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { PointRole, RgbImage } from "../core/image.ts";
import type { AugmentationPolicy } from "../core/policy.ts";
import type { PointMeasurement } from "../core/scores.types.ts";
import { measurePoint, viewsPerPoint } from "../core/sslmem.ts";
import type { PointSet } from "../data/point-set.ts";
import { PreparedBatch, type BatchPipeline, type Representations, type RunOptions } from "./batch-pipeline.ts";
import type { Encoder } from "./encoder.ts";
import { measureLayer } from "../core/layermem.ts";
import type { ResolvedLayer } from "./layers.ts";
import { measurePeak, type MemoryPlanner } from "./memory.ts";
import { sampleBatch, type SamplingSettings, type StagingThread } from "./staging.ts";

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
  pipeline: BatchPipeline;
  catalog: PointCatalog;
  /** LayerMem: the layers measured besides the representation (layers.ts), in order. */
  layers?: readonly ResolvedLayer[];
  /** Batch sizes from a memory budget (memory.ts); without it, the configured batch size. */
  memory?: MemoryPlanner;
  /** Samples and packs batches off the main thread, with the pipeline's packing (staging.ts); without it, inline. */
  staging?: StagingThread;
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
  /**
   * Asks the pipeline for the encoders' representations too, and hands each batch's to this with
   * the batch's rows, before `onBatch`: point p of the rows owns rows [p·V, (p+1)·V) of each
   * encoder's [views, dim] matrix (V views per point). Without it the pipeline returns distances only.
   */
  onRepresentations?: (rows: readonly IndexedMeasurement[], representations: Representations) => Promise<void>;
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
  const { catalog } = ctx;
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? catalog.size, catalog.size);
  const todo: number[] = [];
  for (let i = from; i < to; i++) if (!options.skip?.(i)) todo.push(i);
  const maxPixels = options.maxBatchPixels ?? Infinity;
  // A batch is the sizer's number of points (memory budget), fewer when their decoded pixels reach
  // maxPixels; the points a batch did not load (`carry`) start the next one.
  let cursor = 0;
  let carry: number[] = [];
  const load = (n: number) => {
    const fromCarry = carry.slice(0, n);
    carry = carry.slice(n);
    const take = n - fromCarry.length;
    const indices = fromCarry.concat(todo.slice(cursor, cursor + take));
    cursor += take;
    if (indices.length === 0) return undefined;
    const loading = loadBatch(catalog, indices, maxPixels);
    loading.catch(() => {}); // surfaced when awaited; avoid an unhandled rejection meanwhile
    return loading;
  };

  const out: IndexedMeasurement[] = [];
  const keep = !options.onBatch;
  const sizer = ctx.memory;
  const cap = pointsPerChunk(ctx);
  const nextSize = () => sizer?.nextSize() ?? cap;
  let done = 0;
  const withRepresentations = options.onRepresentations !== undefined;
  const emit = async ({ rows, representations }: MeasuredBatch) => {
    if (representations && options.onRepresentations) await options.onRepresentations(rows, representations);
    if (keep) out.push(...rows);
    else await options.onBatch!(rows);
    done += rows.length;
    options.onProgress?.(done, todo.length);
  };
  // Decoded, sampled and packed: the next batch to run.
  const stage = async (loading: Promise<{ points: LoadedPoint[]; rest: number[] }>): Promise<StagedBatch> => {
    const { points, rest } = await loading;
    carry = rest.concat(carry);
    return stageBatch(ctx, points);
  };
  options.onProgress?.(0, todo.length);
  let next = load(nextSize());
  let staged: StagedBatch | undefined;
  while (staged || next) {
    throwIfAborted(options.signal);
    if (!staged && sizer?.probing) {
      // The next batch's size depends on this batch's measured memory: no prefetch while probing.
      const { points, rest } = await next!;
      carry = rest.concat(carry);
      const measured = await measurePeak(async () => runBatch(ctx, await stageBatch(ctx, points), { representations: withRepresentations, memoryProbe: true }, options.signal));
      sizer.record(points.length, measured);
      next = load(nextSize());
      await emit(measured.value);
      continue;
    }
    const current = staged ?? (await stage(next!));
    if (!staged) next = load(nextSize());
    // Stage the next batch (decode, sample, pack) while this one is queued and run. Its failure
    // waits until this batch's rows are handed over, as if it had happened after them.
    // - With a staging thread, the next batch's images are decoded first (decoding is this
    //   thread's work, which the run would hold up), and its sampling and packing are posted to
    //   the staging thread before the run starts, so that they go on during the run.
    // - Inline, what is ready before the run starts is done then, the rest after it (see the file
    //   comment).
    let following: Promise<StagedBatch> | undefined;
    let failure: { error: unknown } | undefined;
    if (next && ctx.staging) {
      try {
        const { points, rest } = await next;
        carry = rest.concat(carry);
        following = stageBatch(ctx, points); // posted to the staging thread now
        following.catch(() => {}); // awaited below
        next = load(nextSize());
      } catch (error) {
        failure = { error };
      }
    }
    const running = runBatch(ctx, current, { representations: withRepresentations }, options.signal);
    running.catch(() => {}); // awaited below
    if (next && !ctx.staging) {
      try {
        following = Promise.resolve(await stage(next));
        next = load(nextSize());
      } catch (error) {
        failure = { error };
      }
    }
    await emit(await running);
    if (failure) throw failure.error;
    staged = following && (await following);
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

/** Points per batch at most: the configured batch size, capped by the views' size (MAX_VIEW_VALUES). */
export function pointsPerChunk(ctx: Pick<MeasureContext, "config" | "target">): number {
  return Math.max(1, Math.min(ctx.config.batchSize, Math.floor(MAX_VIEW_VALUES / viewValuesPerPoint(ctx))));
}

/** A batch with its views sampled and its inputs packed, ready to run. */
interface StagedBatch {
  points: LoadedPoint[];
  prepared: PreparedBatch;
}

/** What sampling reads of the audit (staging.ts). */
export function samplingSettings(ctx: Pick<MeasureContext, "config" | "policy" | "target">): SamplingSettings {
  const { config, policy, target } = ctx;
  return { policy, pairing: config.pairing, seed: config.seed, views: config.views, out: { height: target.preprocessing.height, width: target.preprocessing.width } };
}

/** Samples and packs a batch: on the staging thread when there is one, else here. */
async function stageBatch(ctx: MeasureContext, points: LoadedPoint[]): Promise<StagedBatch> {
  const { staging, pipeline } = ctx;
  if (staging) {
    const { batch, inputs } = await staging.stage(points);
    return { points, prepared: new PreparedBatch(batch, inputs, (arrays) => staging.giveBack(arrays)) };
  }
  return { points, prepared: pipeline.prepare(sampleBatch(samplingSettings(ctx), points)) };
}

/** A batch's rows, in the order of its points, and its representations when they were asked for. */
interface MeasuredBatch {
  rows: IndexedMeasurement[];
  representations?: Representations;
}

async function runBatch(ctx: MeasureContext, { points, prepared }: StagedBatch, run: RunOptions, signal?: AbortSignal): Promise<MeasuredBatch> {
  throwIfAborted(signal);
  const representations = run.representations === true;
  const d = await ctx.pipeline.run(prepared, run.representations || run.memoryProbe ? run : undefined);
  if (representations && !d.representations) throw new SslmemError("internal", "the pipeline returned no representations");
  const K = ctx.config.views;
  const rows = points.map((point, p) => {
    const dTarget = Array.from(d.target.subarray(p * K, (p + 1) * K));
    const dReference = Array.from(d.reference.subarray(p * K, (p + 1) * K));
    const layers = d.layers?.target.map((layerT, i) =>
      measureLayer(point.id, point.role, Array.from(layerT.subarray(p * K, (p + 1) * K)), Array.from(d.layers!.reference[i].subarray(p * K, (p + 1) * K))),
    );
    return { index: point.index, ...measurePoint(point.id, point.role, dTarget, dReference), ...(layers ? { layers } : {}) };
  });
  return representations ? { rows, representations: d.representations } : { rows };
}
