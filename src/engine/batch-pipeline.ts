/**
 * One audit batch on the execution provider: source images + sampled views in, K distances per
 * point per encoder out. Two implementations of one interface:
 *
 * - fused (the default): one ONNX Runtime session of the composed graph (fused-graph.ts) — one run
 *   per batch, views and representations stay inside the session (before it, while the memory
 *   planner probes, one without the CPU arena: see sessionOptions);
 * - chained (when the encoders cannot be composed: fixed-batch exports, opsets below 13, ops whose
 *   meaning changed between the encoders' opsets, local functions…): the augmentation session, then
 *   each encoder's session on the views tensor the first returned, distances on the host. The
 *   reason is logged and reported (`pipeline` of PreparedAudit).
 *
 * Both give the same measurements (test/engine/pipeline-scores.test.ts).
 */
import * as ort from "onnxruntime-node";
import { availableParallelism } from "node:os";
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import { pairDistances, viewsPerPoint } from "../core/sslmem.ts";
import type { Size, ViewParams } from "../core/view-params.ts";
import type { AugmentGraphOptions } from "./augment-graph.ts";
import { augmentRunCount, type PackedInput } from "./augment-graph.ts";
import { ArrayPool } from "./array-pool.ts";
import { Augmenter, toFeeds } from "./augmenter.ts";
import { packBatch, type AugmentSite, type BatchPacking } from "./batch-packing.ts";
import { hostAugmentation, type HostAugmentation } from "./host-augment.ts";
import type { Encoder } from "./encoder.ts";
import { buildFusedGraph, FUSED_OUTPUTS, type FusedGraph } from "./fused-graph.ts";
import { layerDistancesOutput, type EncoderSide, type LayerTaps } from "./layer-graph.ts";
import { HostLayerMeasure, type LayerDistances } from "./layer-reference.ts";
import type { SessionCache } from "./session.ts";
import { intraOpWait, ortExecutionProviders, ortRunError, sanitizeOrtMessage, silentLogger, type EngineLogger, type ProviderChoice } from "./providers.ts";

/** One point of a batch: its decoded image and the views sampled for it. */
export interface PointViews {
  image: RgbImage;
  views: readonly ViewParams[];
}

export interface Representations {
  /** [views, dim] rows in the order of the batch's views. */
  target: { data: Float32Array; dim: number };
  reference: { data: Float32Array; dim: number };
}

export interface BatchDistances {
  /** [points, K] per-pair distances, row-major (float32 from the graph, float64 from the host). */
  target: Float32Array | Float64Array;
  reference: Float32Array | Float64Array;
  /** Only when requested. */
  representations?: Representations;
  /** LayerMem: per layer, [points, K] distances (when the pipeline was built with layer taps). */
  layers?: LayerDistances;
}

export interface PipelineDescription {
  mode: "fused" | "chained";
  /**
   * Where the views were made (fused only; batch-packing.ts): in the composed graph, or on the
   * host CPU (host-augment.ts; defaultAugmentSite says when).
   */
  augmentation?: AugmentSite;
  /** Why the encoders were not composed (chained only). */
  reason?: string;
  /** Opset of the composed graph (fused only). */
  opset?: number;
  /** Runs a batch's views go through the augmentation in (fused, augmentation in the graph; augment-graph.ts, augmentRunCount). */
  augmentRuns?: number;
  /** ORT intra-op threads of the pipeline's sessions. */
  threads: number;
  /** Where batches are sampled and packed (staging.ts): set by the audit that runs the pipeline. */
  staging?: "inline" | "thread";
}

/**
 * A batch whose host-side work (packing the views' parameters into graph inputs) is done: made by
 * `prepare`, or by the staging thread with the pipeline's `packing` (staging.ts), so that the audit
 * loop packs batch i+1 while batch i runs (measure.ts). Its packed arrays are the pipeline's
 * (array-pool.ts), or the staging thread's when `giveBack` says where they go: the run takes them,
 * once, and gives them back after.
 */
export class PreparedBatch {
  #inputs: Record<string, PackedInput> | undefined;

  constructor(
    readonly points: readonly PointViews[],
    inputs?: Record<string, PackedInput>,
    /** Where the packed arrays go after the run, when they are not the pipeline's own. */
    readonly giveBack?: (arrays: PackedInput["data"][]) => void,
  ) {
    this.#inputs = inputs;
  }

  /** The packed inputs, to the one run of the batch; undefined after it (or when none were packed). */
  take(): Record<string, PackedInput> | undefined {
    const inputs = this.#inputs;
    this.#inputs = undefined;
    return inputs;
  }
}

export interface RunOptions {
  /** Also return every view's representation under both encoders. */
  representations?: boolean;
  /**
   * The batch is a probe of the memory planner (memory.ts), whose peak must be what the batch
   * needs: it runs in a session without ONNX Runtime's CPU arena (see FusedPipeline).
   */
  memoryProbe?: boolean;
}

export interface BatchPipeline {
  readonly description: PipelineDescription;
  /** The host-side work of a batch, ahead of its run (pure CPU, no provider work). */
  prepare(batch: readonly PointViews[]): PreparedBatch;
  /**
   * The options `prepare` packs a batch's inputs with, for packing elsewhere (staging.ts) into a
   * PreparedBatch this pipeline runs; undefined when `prepare` packs nothing (chained).
   */
  readonly packing?: BatchPacking;
  run(batch: readonly PointViews[] | PreparedBatch, options?: RunOptions): Promise<BatchDistances>;
  /**
   * Every view's representation under both encoders, for views that need not form points (the
   * encoder-health sample takes two views of each of many images): no distances are computed.
   * `memoryProbe`: run in the probe's session, as a probe batch would (memory.ts), without being one.
   */
  represent(batch: readonly PointViews[], options?: { memoryProbe?: boolean }): Promise<Representations>;
  release(): Promise<void>;
}

function points(batch: readonly PointViews[] | PreparedBatch): readonly PointViews[] {
  return batch instanceof PreparedBatch ? batch.points : batch;
}

export interface BatchPipelineOptions {
  augment: AugmentGraphOptions;
  target: { bytes: Uint8Array; encoder: Encoder };
  reference: { bytes: Uint8Array; encoder: Encoder };
  /** `batchSize`: points a batch holds at most (the composed graph's runs of views are sized for it; default 1). */
  config: Pick<AuditConfig, "views" | "pairing" | "distance" | "precision"> & Partial<Pick<AuditConfig, "batchSize">>;
  providers: ProviderChoice;
  threads?: number;
  logger?: EngineLogger;
  /** Build the chained pipeline even when the encoders compose (tests, benchmarks). */
  forceChained?: string;
  /**
   * Where the composed pipeline makes the views (batch-packing.ts). Default: defaultAugmentSite's.
   */
  augmentation?: AugmentSite;
  /** LayerMem: the layer values of each encoder to measure as well (layers.ts). */
  layers?: LayerTaps;
  /** Keeps the composed session for later audits of the same encoders and settings (the service's). */
  cache?: SessionCache;
  /**
   * The first batches will be the memory planner's probe (memory.ts): the session made first is
   * the probe's, without the arena, and the arena session is made after the probe (FusedPipeline).
   */
  memoryProbe?: boolean;
}

/**
 * The composed graph's session options. `arena`: ONNX Runtime's CPU arena, which keeps the memory
 * of a run for the next. Without it every run's activations come from malloc, whose large chunks
 * are mappings of their own, returned to the kernel when freed, so the next run faults every page
 * in again (and the kernel zeroes it): on this project's 2-core virtual machine the ResNet-18 graph
 * ran at 27.5 views/s without the arena and 48.8 with it, at the same batch of 3 points and about
 * the same peak (1 387 against 1 471 MiB; the 64×64 convnet: 820 against 1 422 views/s, 423 against
 * 380 MiB). But the arena never shrinks: a session that ran batches of 1, 2 and N points holds
 * regions for all three (ResNet-18 peaked at 2.9 GiB so), and a probe batch run on it measures what
 * the arena kept, not what the batch needs. So the memory planner's probe batches run in a session
 * without it (`memoryProbe`), released once the plan is made, and the audit's batches — N points —
 * in the arena session made after it, which grows once (memory.ts, ARENA_GROWTH).
 */
function sessionOptions(providers: ProviderChoice, threads: number, arena: boolean): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ortExecutionProviders(providers),
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    executionMode: "sequential",
    enableCpuMemArena: arena,
    // Nor the memory pattern: with it a run's activations are one block of the run's peak (without
    // the arena too large for malloc to keep, so its pages were faulted in afresh every run), and
    // the block is planned per input shape, larger than what the run needs tensor by tensor
    // (ResNet-18: 514 MiB per point instead of 155; with the arena, 2 118 MiB instead of 1 471 at
    // 3 points). Tensor by tensor, a tensor is freed as soon as it is dead.
    enableMemPattern: false,
    // The composed session runs alone: its pool spins briefly between the augmentation's short ops.
    extra: { session: { intra_op: intraOpWait("brief-spin") } },
  };
}

/**
 * The augmentation as the composed graph runs it: in runs of views sized for the caches
 * (augment-graph.ts, augmentRunCount) at the configured batch size. Every batch of the composed
 * graph holds whole points (`represent` pads to them), so at least one point's views.
 */
function composedAugment(options: BatchPipelineOptions): AugmentGraphOptions {
  const perPoint = viewsPerPoint(options.config.views, options.config.pairing);
  return { ...options.augment, runs: augmentRunCount(options.augment.out, perPoint * (options.config.batchSize ?? 1), perPoint) };
}

/** The composed graph of the pipeline's encoders and settings (fused-graph.ts). */
function composedGraph(options: BatchPipelineOptions): FusedGraph {
  return buildFusedGraph({
    augment: composedAugment(options),
    hostViews: options.augmentation === "host",
    target: options.target,
    reference: options.reference,
    pairs: options.config.views,
    pairing: options.config.pairing,
    distance: options.config.distance,
    layers: options.layers,
    float16: options.config.precision === "fp16",
  });
}

/**
 * The longest side, in pixels, of views made on the host by default for a GPU provider. There the
 * staging thread (staging.ts) makes a batch's views while the device runs the last one, and the
 * composed graph is only the encoders; in the graph, a batch of small views is many short device
 * dispatches. Measured on an H200 (webgpu, 16 host cores, `npm run bench`, 2026-12-04): audit ÷
 * limit 1.11 host against 0.58 graph for 32×32 views and 1.03 against 0.58 for 64×64 (8 points a
 * batch; 0.99 against 0.52 at 64 points, 0.75 against 0.54 at 32), but 0.76 against 1.27 for
 * ResNet-18's 224×224, whose views one thread makes slower than the device runs them. 128 lies
 * between the sizes measured.
 */
export const DEVICE_HOST_VIEWS_MAX_SIDE = 128;

/**
 * Where the composed pipeline makes a batch's views by default: on the host when the addon loads
 * (`host`, host-augment.ts) and the provider is the CPU, or a GPU provider with views of at most
 * DEVICE_HOST_VIEWS_MAX_SIDE a side; else in the graph — with the reason when the host would have
 * made them but the addon did not load (exported for tests).
 */
export function defaultAugmentSite(provider: string, out: Size, host: HostAugmentation): { site: AugmentSite; fallback?: string } {
  const hostFirst = provider === "cpu" || Math.max(out.height, out.width) <= DEVICE_HOST_VIEWS_MAX_SIDE;
  if (!hostFirst) return { site: "graph" };
  return "reason" in host ? { site: "graph", fallback: host.reason } : { site: "host" };
}

/** Where the composed pipeline makes a batch's views: as requested, else defaultAugmentSite's. */
function augmentSite(options: BatchPipelineOptions): { site: AugmentSite; fallback?: string } {
  const host = hostAugmentation();
  if (options.augmentation === "host" && "reason" in host) throw new SslmemError("invalid_config", `augmentation on the host: ${host.reason}`);
  if (options.augmentation) return { site: options.augmentation };
  return defaultAugmentSite(options.providers.provider, options.augment.out, host);
}

export async function createBatchPipeline(requested: BatchPipelineOptions): Promise<BatchPipeline> {
  const logger = requested.logger ?? silentLogger;
  const threads = requested.threads ?? availableParallelism();
  const chained = (reason?: string) => ChainedPipeline.create(requested, threads, reason);
  if (requested.forceChained !== undefined && requested.config.precision !== "fp16") return chained();
  const { site, fallback } = augmentSite(requested);
  if (fallback) logger.warn({ reason: fallback, provider: requested.providers.provider }, "views made in the composed graph, not on the host");
  const options: BatchPipelineOptions = { ...requested, augmentation: site };
  const build = () => composedGraph(options);
  const augmentRuns = site === "graph" ? composedAugment(options).runs : undefined;
  const key = composedKey(options, threads);
  let built: FusedGraph | undefined;
  if (options.cache && key) {
    // A hit skips building the graph and ONNX Runtime's optimization of it.
    const { session, cached } = options.cache.composedSession(key, () => {
      const fused = (built = build());
      if (!fused.ok) return { bytes: 0, session: Promise.reject(new Error(fused.reason)) };
      const created = ort.InferenceSession.create(fused.model, sessionOptions(options.providers, threads, true));
      return { bytes: fused.model.byteLength, session: created.then((s) => ({ session: s, opset: fused.opset })) };
    });
    session.catch(() => {}); // not composable or not loadable: the uncached path below says why
    if (cached || built?.ok) {
      try {
        const { session: shared, opset } = await session;
        logger.info({ opset, threads, cached, augmentation: site, augmentRuns }, "audit batches run as one composed graph");
        return new FusedPipeline({ arena: shared }, built?.ok ? built.model : undefined, options, describeFused(site, opset, augmentRuns, threads), chained, { shared: true });
      } catch {
        // Fall through to build it again uncached, which logs and reports why it did not load.
      }
    }
  }
  const fused = built ?? build();
  if (!fused.ok && options.config.precision === "fp16") {
    throw new SslmemError("invalid_config", `precision fp16 needs encoders that compose into one graph, and these do not: ${fused.reason}`);
  }
  if (!fused.ok) {
    logger.warn({ reason: fused.reason }, "encoders not composed into one graph; chaining their sessions");
    return chained(fused.reason);
  }
  // The composed graph holds both encoders: their own sessions (kept for the chained fallback)
  // are suspended now, so that its weights take the memory theirs free.
  await Promise.all([options.target.encoder.suspend(), options.reference.encoder.suspend()]);
  const arena = options.memoryProbe !== true;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(fused.model, sessionOptions(options.providers, threads, arena));
  } catch (e) {
    const reason = `ONNX Runtime could not load the composed graph: ${sanitizeOrtMessage(e instanceof Error ? e.message : String(e))}`;
    if (options.config.precision === "fp16") throw new SslmemError("model_unsupported", `precision fp16: ${reason}`, undefined, { cause: e });
    logger.warn({ reason }, "encoders not composed into one graph; chaining their sessions");
    return chained(reason);
  }
  logger.info({ opset: fused.opset, threads, augmentation: site, augmentRuns }, "audit batches run as one composed graph");
  // No copy of the model is kept (ResNet-18's is ~90 MB): after the probe, the arena session's is
  // built again.
  return new FusedPipeline(arena ? { arena: session } : { probe: session }, undefined, options, describeFused(site, fused.opset, augmentRuns, threads), chained);
}

function describeFused(site: AugmentSite, opset: number, augmentRuns: number | undefined, threads: number): PipelineDescription {
  return { mode: "fused", augmentation: site, opset, ...(augmentRuns !== undefined ? { augmentRuns } : {}), threads };
}

class FusedPipeline implements BatchPipeline {
  #fallback: Promise<BatchPipeline> | undefined;
  /** The arena session of the audit's batches: made after the probe when there is one. */
  #session: Promise<ort.InferenceSession> | undefined;
  /** The arena-less session of the memory probe's batches: released before the arena one is made. */
  #probe: Promise<ort.InferenceSession> | undefined;

  constructor(
    sessions: { arena?: ort.InferenceSession; probe?: ort.InferenceSession },
    /** The composed model, for a session still to make (built again when needed). */
    private model: Uint8Array | undefined,
    private readonly options: BatchPipelineOptions,
    readonly description: PipelineDescription,
    private readonly chained: (reason?: string) => Promise<BatchPipeline>,
    /** The arena session is the session cache's: released by the cache, not here. */
    private readonly ownership: { shared: boolean } = { shared: false },
  ) {
    this.#session = sessions.arena && Promise.resolve(sessions.arena);
    this.#probe = sessions.probe && Promise.resolve(sessions.probe);
  }

  /** The arrays of packed batches, given back after their runs. */
  readonly #arrays = new ArrayPool();

  prepare(batch: readonly PointViews[]): PreparedBatch {
    return new PreparedBatch(batch, packBatch(this.packing, batch, this.#arrays));
  }

  get packing(): BatchPacking {
    return { augment: this.options.augment, site: this.options.augmentation ?? "graph" };
  }

  /**
   * The session a batch runs in: the probe's while the memory planner probes, else the arena one.
   * Only one exists at a time (unless the arena session is the cache's): the probe's is released
   * before the arena session is made, so the probe's peak is not on top of an arena's, and the
   * arena session takes the memory the probe's frees.
   */
  async #sessionFor(memoryProbe: boolean): Promise<ort.InferenceSession> {
    if (memoryProbe) {
      this.#probe ??= this.#create(false);
      return this.#probe;
    }
    if (this.#probe) {
      const probe = this.#probe;
      this.#probe = undefined;
      await (await probe).release();
    }
    if (!this.#session) {
      const session = (this.#session = this.#create(true));
      session.catch(() => {
        if (this.#session === session) this.#session = undefined;
      });
    }
    const session = await this.#session;
    this.model = undefined; // the plan is made (or there is none to make): no other session to make
    return session;
  }

  async #create(arena: boolean): Promise<ort.InferenceSession> {
    const options = sessionOptions(this.options.providers, this.description.threads, arena);
    try {
      return await ort.InferenceSession.create(this.#composedModel(), options);
    } catch (e) {
      throw new SslmemError("engine_failure", `ONNX Runtime could not load the composed graph again: ${sanitizeOrtMessage(e instanceof Error ? e.message : String(e))}`, undefined, { cause: e });
    }
  }

  #composedModel(): Uint8Array {
    if (this.model) return this.model;
    const fused = composedGraph(this.options);
    if (!fused.ok) throw new SslmemError("internal", `the composed graph did not build again: ${fused.reason}`);
    return fused.model;
  }

  async run(input: readonly PointViews[] | PreparedBatch, opts: RunOptions = {}): Promise<BatchDistances> {
    const batch = points(input);
    // Packed ahead (measure.ts, staging.ts), or now: a batch that is run again, or was prepared by another pipeline.
    const taken = input instanceof PreparedBatch ? input.take() : undefined;
    const inputs = taken ?? packBatch(this.packing, batch, this.#arrays);
    const giveBack = (taken && input instanceof PreparedBatch ? input.giveBack : undefined) ?? ((arrays: PackedInput["data"][]) => this.#arrays.give(arrays));
    try {
      return await this.#run(batch, toFeeds(inputs), opts);
    } finally {
      giveBack(Object.values(inputs).map((input) => input.data));
    }
  }

  async #run(batch: readonly PointViews[], feeds: Record<string, ort.Tensor>, opts: RunOptions): Promise<BatchDistances> {
    const session = await this.#sessionFor(opts.memoryProbe === true);
    const fetches: string[] = [FUSED_OUTPUTS.distances.target, FUSED_OUTPUTS.distances.reference];
    if (opts.representations) fetches.push(FUSED_OUTPUTS.representation.target, FUSED_OUTPUTS.representation.reference);
    const layerCount = this.options.layers?.target.length ?? 0;
    const layerOutputs = (side: EncoderSide) => Array.from({ length: layerCount }, (_, i) => layerDistancesOutput(side, i));
    fetches.push(...layerOutputs("target"), ...layerOutputs("reference"));
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await session.run(feeds, fetches);
    } catch (e) {
      throw ortRunError(e, "the audit batch");
    }
    const target = result[FUSED_OUTPUTS.distances.target].data as Float32Array;
    const reference = result[FUSED_OUTPUTS.distances.reference].data as Float32Array;
    if (!allFinite(target) || !allFinite(reference)) {
      // A NaN/Inf representation: the chained pipeline checks each encoder's output and says which.
      this.#fallback ??= this.chained("a representation was not finite");
      return (await this.#fallback).run(batch, opts);
    }
    const out: BatchDistances = { target, reference };
    if (layerCount > 0) {
      const read = (side: EncoderSide) => layerOutputs(side).map((name) => result[name].data as Float32Array);
      const [layersT, layersR] = [read("target"), read("reference")];
      out.layers = { target: layersT, reference: layersR };
      if (![...layersT, ...layersR].every(allFinite)) {
        this.#fallback ??= this.chained("a layer's activations were not finite");
        return (await this.#fallback).run(batch, opts);
      }
    }
    if (opts.representations) out.representations = this.#representations(result);
    return out;
  }

  async represent(batch: readonly PointViews[], opts: { memoryProbe?: boolean } = {}): Promise<Representations> {
    // The graph runs its distances too (ONNX Runtime runs every node, whatever is fetched), which
    // need whole points: the views are padded to a multiple of a point's with views of the last
    // image, whose rows are left out.
    const views = batch.reduce((n, p) => n + p.views.length, 0);
    const perPoint = viewsPerPoint(this.options.config.views, this.options.config.pairing);
    const missing = (perPoint - (views % perPoint)) % perPoint;
    const last = batch.findLast((p) => p.views.length > 0);
    const padded = missing === 0 || !last ? batch : [...batch, { image: last.image, views: Array.from({ length: missing }, (_, i) => last.views[i % last.views.length]) }];
    const inputs = packBatch(this.packing, padded, this.#arrays);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      const session = await this.#sessionFor(opts.memoryProbe === true);
      result = await session.run(toFeeds(inputs), [FUSED_OUTPUTS.representation.target, FUSED_OUTPUTS.representation.reference]).catch((e: unknown) => {
        throw ortRunError(e, "the encoder-health batch");
      });
    } finally {
      this.#arrays.give(Object.values(inputs).map((input) => input.data));
    }
    const all = this.#representations(result);
    const rows = ({ data, dim }: { data: Float32Array; dim: number }) => ({ data: data.subarray(0, views * dim), dim });
    const out = { target: rows(all.target), reference: rows(all.reference) };
    if (!allFinite(out.target.data) || !allFinite(out.reference.data)) {
      this.#fallback ??= this.chained("a representation was not finite");
      return (await this.#fallback).represent(batch, opts);
    }
    return out;
  }

  #representations(result: ort.InferenceSession.OnnxValueMapType): Representations {
    const rows = (name: string, encoder: Encoder) => ({ data: result[name].data as Float32Array, dim: encoder.dim });
    return {
      target: rows(FUSED_OUTPUTS.representation.target, this.options.target.encoder),
      reference: rows(FUSED_OUTPUTS.representation.reference, this.options.reference.encoder),
    };
  }

  async release(): Promise<void> {
    const [session, probe] = [this.#session, this.#probe];
    this.#session = this.#probe = undefined;
    if (!this.ownership.shared) await (await session?.catch(() => undefined))?.release();
    await (await probe)?.release();
    await (await this.#fallback)?.release();
  }
}

/**
 * The session cache's key of a composed graph: everything buildFusedGraph reads, and the session
 * options. Undefined when an encoder has no digest to key it by.
 */
function composedKey(options: BatchPipelineOptions, threads: number): string | undefined {
  const [t, r] = [options.target.encoder.info.digest, options.reference.encoder.info.digest];
  if (!t || !r) return undefined;
  const { views, pairing, distance, precision } = options.config;
  return JSON.stringify(["fused-v4", t, r, composedAugment(options), options.augmentation ?? "graph", views, pairing, distance, precision, options.layers ?? null, ortExecutionProviders(options.providers), threads]);
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return false;
  return true;
}

class ChainedPipeline implements BatchPipeline {
  private constructor(
    private readonly augmenter: Augmenter,
    private readonly options: BatchPipelineOptions,
    readonly description: PipelineDescription,
    private readonly layers?: HostLayerMeasure,
  ) {}

  static async create(options: BatchPipelineOptions, threads: number, reason = options.forceChained ?? "requested"): Promise<BatchPipeline> {
    const augmenter = Augmenter.fromGraph(options.augment, ortExecutionProviders(options.providers), { intraOpNumThreads: threads });
    const { config } = options;
    const layers = options.layers
      ? await HostLayerMeasure.open({
          target: options.target,
          reference: options.reference,
          taps: options.layers,
          pool: options.target.encoder.pool,
          pairs: config.views,
          pairing: config.pairing,
          distance: config.distance,
          executionProviders: ortExecutionProviders(options.providers),
          threads,
        })
      : undefined;
    return new ChainedPipeline(augmenter, options, { mode: "chained", reason, threads }, layers);
  }

  prepare(batch: readonly PointViews[]): PreparedBatch {
    // The augmentation session packs its own inputs.
    return new PreparedBatch(batch);
  }

  async run(input: readonly PointViews[] | PreparedBatch, opts: RunOptions = {}): Promise<BatchDistances> {
    const batch = points(input);
    const { config, target, reference } = this.options;
    const views = await this.augmenter.runBatch(batch);
    const n = batch.reduce((s, p) => s + p.views.length, 0);
    const embT = await target.encoder.embed(views, n);
    const embR = await reference.encoder.embed(views, n);
    const perPoint = viewsPerPoint(config.views, config.pairing);
    const dT = new Float64Array(batch.length * config.views);
    const dR = new Float64Array(batch.length * config.views);
    const slice = (e: { data: Float32Array; dim: number }, p: number) => ({ data: e.data.subarray(p * perPoint * e.dim, (p + 1) * perPoint * e.dim), dim: e.dim });
    for (let p = 0; p < batch.length; p++) {
      dT.set(pairDistances(slice(embT, p), config.pairing, config.distance), p * config.views);
      dR.set(pairDistances(slice(embR, p), config.pairing, config.distance), p * config.views);
    }
    const layers = this.layers ? await this.layers.measure(views, batch.length) : undefined;
    return { target: dT, reference: dR, ...(layers ? { layers } : {}), ...(opts.representations ? { representations: { target: embT, reference: embR } } : {}) };
  }

  async represent(batch: readonly PointViews[]): Promise<Representations> {
    const views = await this.augmenter.runBatch(batch);
    const n = batch.reduce((s, p) => s + p.views.length, 0);
    return { target: await this.options.target.encoder.embed(views, n), reference: await this.options.reference.encoder.embed(views, n) };
  }

  async release(): Promise<void> {
    await this.augmenter.release();
    await this.layers?.release();
  }
}
