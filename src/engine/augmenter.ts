/**
 * Runs the augmentation graph (augment-graph.ts) with ONNX Runtime on the encoders' execution
 * providers: one source image + its sampled views in, normalized encoder-ready views out.
 *
 * The graph fixes the number of views per run (its blur Conv groups the views into channels), so
 * one session is built per distinct view count and cached. Larger requests run in chunks of
 * MAX_VIEWS_PER_RUN, which bounds both the graph's size (a few nodes per view) and its memory;
 * an audit therefore needs at most two sessions (the chunk size and its remainder).
 */
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationPolicy } from "../core/policy.ts";
import type { Size, ViewParams } from "../core/view-params.ts";
import { buildAugmentGraph, packViewInputs, stagesForPolicy, type AugmentGraphOptions, type AugmentStages, type Layout } from "./augment-graph.ts";

type Rgb = [number, number, number];

export const MAX_VIEWS_PER_RUN = 64;

export interface AugmenterOptions {
  policy: AugmentationPolicy;
  out: Size;
  layout: Layout;
  /** Per-channel mean and std on the [0,1] scale (torchvision convention). */
  mean: Rgb;
  std: Rgb;
  /** Value range the encoder expects before mean/std, e.g. [0,1] or [0,255]. */
  range: [number, number];
  executionProviders: string[];
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

export class Augmenter {
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();
  private released = false;

  private constructor(
    private readonly opts: AugmenterOptions,
    readonly stages: AugmentStages,
  ) {}

  static async create(opts: AugmenterOptions): Promise<Augmenter> {
    const { out, std, range } = opts;
    if (!Number.isInteger(out.height) || !Number.isInteger(out.width) || out.height < 1 || out.width < 1) {
      throw new SslmemError("invalid_config", `augmentation output size must be positive integers, got ${out.height}×${out.width}`);
    }
    if (!std.every((s) => s > 0) || !(range[0] < range[1])) {
      throw new SslmemError("invalid_config", "preprocessing needs std > 0 and range [low, high] with low < high");
    }
    return new Augmenter(opts, stagesForPolicy(opts.policy, out));
  }

  private graphOptions(views: number): AugmentGraphOptions {
    const { out, layout, mean, std, range } = this.opts;
    return { stages: this.stages, views, out, layout, mean, std, range };
  }

  private session(views: number): Promise<ort.InferenceSession> {
    let session = this.sessions.get(views);
    if (!session) {
      const user = this.opts.sessionOptions ?? {};
      const userExtra = (user.extra ?? {}) as Record<string, Record<string, unknown>>;
      // No spinning: the augmenter shares the CPU with the encoders; spinning threads would steal it.
      const options: ort.InferenceSession.SessionOptions = {
        ...user,
        executionProviders: this.opts.executionProviders as ort.InferenceSession.SessionOptions["executionProviders"],
        graphOptimizationLevel: "all",
        extra: {
          ...userExtra,
          session: { ...userExtra.session, intra_op: { ...(userExtra.session?.intra_op as object | undefined), allow_spinning: "0" } },
        },
      };
      session = ort.InferenceSession.create(buildAugmentGraph(this.graphOptions(views)), options);
      session.catch(() => this.sessions.delete(views));
      this.sessions.set(views, session);
    }
    return session;
  }

  /** Views of `image`: V×3×outH×outW (NCHW) or V×outH×outW×3 (NHWC), normalized. */
  async run(image: RgbImage, views: readonly ViewParams[]): Promise<Float32Array> {
    if (this.released) throw new SslmemError("internal", "augmenter used after release");
    if (views.length <= MAX_VIEWS_PER_RUN) return this.runChunk(image, views);
    const perView = 3 * this.opts.out.height * this.opts.out.width;
    const result = new Float32Array(views.length * perView);
    for (let start = 0; start < views.length; start += MAX_VIEWS_PER_RUN) {
      const chunk = views.slice(start, start + MAX_VIEWS_PER_RUN);
      result.set(await this.runChunk(image, chunk), start * perView);
    }
    return result;
  }

  private async runChunk(image: RgbImage, views: readonly ViewParams[]): Promise<Float32Array> {
    if (views.length === 0) return new Float32Array(0);
    const packed = packViewInputs(this.graphOptions(views.length), image, views);
    let session: ort.InferenceSession;
    try {
      session = await this.session(views.length);
    } catch (e) {
      throw new SslmemError("engine_failure", "could not create the augmentation session", undefined, { cause: e });
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, p] of Object.entries(packed)) feeds[name] = new ort.Tensor(p.type, p.data, p.dims);
    try {
      const result = await session.run(feeds);
      return result.views.data as Float32Array;
    } catch (e) {
      throw new SslmemError("engine_failure", "the augmentation graph failed to run", undefined, { cause: e });
    }
  }

  async release(): Promise<void> {
    this.released = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}
