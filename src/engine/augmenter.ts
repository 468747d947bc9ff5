/**
 * Runs the augmentation graph (augment-graph.ts) alone with ONNX Runtime on the encoders'
 * execution providers: source images + their sampled views in, normalized encoder-ready views out.
 *
 * The audit itself runs the augmentation composed with the encoders (fused-graph.ts); this
 * standalone form serves the chained pipeline (encoders that cannot be composed), tests against
 * the TypeScript reference, and benchmarks. Every dimension of the graph is symbolic, so one
 * session serves any batch.
 */
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationPolicy } from "../core/policy.ts";
import type { Size, ViewParams } from "../core/view-params.ts";
import { intraOpWait } from "./providers.ts";
import { buildAugmentGraph, packAugmentInputs, stagesForPolicy, type AugmentGraphOptions, type AugmentStages, type Layout, type PackedInput, type SourceViews } from "./augment-graph.ts";

type Rgb = [number, number, number];

export interface AugmenterOptions {
  policy: AugmentationPolicy;
  out: Size;
  layout: Layout;
  /** Per-channel mean and std on the [0,1] scale (torchvision convention). */
  mean: Rgb;
  std: Rgb;
  /** Value range the encoder expects before mean/std, e.g. [0,1] or [0,255]. */
  range: [number, number];
  executionProviders: ExecutionProviders;
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

type ExecutionProviders = NonNullable<ort.InferenceSession.SessionOptions["executionProviders"]>;

/** Checks the options every augmentation graph is built from; returns them as graph options. */
export function augmentGraphOptions(opts: Omit<AugmenterOptions, "executionProviders" | "sessionOptions">): AugmentGraphOptions {
  const { out, std, range } = opts;
  if (!Number.isInteger(out.height) || !Number.isInteger(out.width) || out.height < 1 || out.width < 1) {
    throw new SslmemError("invalid_config", `augmentation output size must be positive integers, got ${out.height}×${out.width}`);
  }
  if (!std.every((s) => s > 0) || !(range[0] < range[1])) {
    throw new SslmemError("invalid_config", "preprocessing needs std > 0 and range [low, high] with low < high");
  }
  return { stages: stagesForPolicy(opts.policy, out), out, layout: opts.layout, mean: opts.mean, std: opts.std, range: opts.range };
}

/** ORT tensors for packed graph inputs. */
export function toFeeds(packed: Record<string, PackedInput>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, p] of Object.entries(packed)) feeds[name] = new ort.Tensor(p.type, p.data, p.dims);
  return feeds;
}

export class Augmenter {
  private session: Promise<ort.InferenceSession> | undefined;
  private released = false;

  private constructor(
    readonly graph: AugmentGraphOptions,
    private readonly executionProviders: ExecutionProviders,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions = {},
  ) {}

  static async create(opts: AugmenterOptions): Promise<Augmenter> {
    return new Augmenter(augmentGraphOptions(opts), opts.executionProviders, opts.sessionOptions);
  }

  /** An augmenter for graph options already checked (augmentGraphOptions). */
  static fromGraph(graph: AugmentGraphOptions, executionProviders: ExecutionProviders, sessionOptions?: ort.InferenceSession.SessionOptions): Augmenter {
    return new Augmenter(graph, executionProviders, sessionOptions);
  }

  get stages(): AugmentStages {
    return this.graph.stages;
  }

  private open(): Promise<ort.InferenceSession> {
    if (!this.session) {
      const user = this.sessionOptions;
      const userExtra = (user.extra ?? {}) as Record<string, Record<string, unknown>>;
      // Idle threads sleep (providers.ts): the augmenter runs alternately with the encoders' sessions.
      const options: ort.InferenceSession.SessionOptions = {
        ...user,
        executionProviders: this.executionProviders,
        graphOptimizationLevel: "all",
        extra: {
          ...userExtra,
          session: { ...userExtra.session, intra_op: { ...(userExtra.session?.intra_op as object | undefined), ...intraOpWait("sleep") } },
        },
      };
      const session = ort.InferenceSession.create(buildAugmentGraph(this.graph), options);
      session.catch(() => (this.session = undefined));
      this.session = session;
    }
    return this.session;
  }

  /** Views of `image`: V×3×outH×outW (NCHW) or V×outH×outW×3 (NHWC), normalized. */
  run(image: RgbImage, views: readonly ViewParams[]): Promise<Float32Array> {
    return this.runBatch([{ image, views }]);
  }

  /** The views of every image of a batch, in one run, in order (image by image). */
  async runBatch(batch: readonly SourceViews[]): Promise<Float32Array> {
    if (this.released) throw new SslmemError("internal", "augmenter used after release");
    if (batch.every((b) => b.views.length === 0)) return new Float32Array(0);
    const feeds = toFeeds(packAugmentInputs(this.graph, batch.filter((b) => b.views.length > 0)));
    let session: ort.InferenceSession;
    try {
      session = await this.open();
    } catch (e) {
      throw new SslmemError("engine_failure", "could not create the augmentation session", undefined, { cause: e });
    }
    try {
      const result = await session.run(feeds);
      return result.views.data as Float32Array;
    } catch (e) {
      throw new SslmemError("engine_failure", "the augmentation graph failed to run", undefined, { cause: e });
    }
  }

  async release(): Promise<void> {
    this.released = true;
    const session = this.session;
    this.session = undefined;
    await (await session?.catch(() => undefined))?.release();
  }
}
