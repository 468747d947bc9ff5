/**
 * A TF.js encoder (LayersModel or GraphModel: model.json + weight shards) loaded from a directory
 * or an archive (model-files.ts) after the static checks of model-json.ts, run on the chosen TF.js
 * backend (backend.ts).
 */
import type { Tensor4D } from "@tensorflow/tfjs";
import { SslmemError } from "../../core/errors.ts";
import { loadTfjs, type Tf } from "./backend.ts";
import type { TfjsModelManifest } from "./model-json.ts";
import { loadModelParts, openTfjsModel } from "./model-files.ts";

/** Largest input (H·W) of a TF.js encoder: 4096×4096, far beyond any vision encoder; views are made at this size. */
const MAX_VIEW_PIXELS = 4096 * 4096;

/** What can run a batch: the two TF.js model kinds share `predict` / `execute` through this. */
type Runnable = { predict(x: ReturnType<Tf["tensor"]>): unknown; dispose(): void };

export class TfjsEncoder {
  private constructor(
    private readonly tf: Tf,
    private readonly model: Runnable,
    readonly backend: string,
    readonly format: TfjsModelManifest["format"],
    /** [H, W, C] of one view (NHWC, TF.js's layout). */
    readonly viewShape: [number, number, number],
    readonly digest: string,
  ) {}

  /** TF.js models take channels-last images. */
  readonly layout = "NHWC" as const;

  /** The model at `path`: a directory with model.json, model.json itself, or a .tar / .zip of one (model-files.ts). */
  static async fromPath(path: string): Promise<TfjsEncoder> {
    const files = await openTfjsModel(path);
    if (!files) throw new SslmemError("model_not_found", "not a TF.js model: give a directory holding model.json and its weight shards, that model.json, or a .tar or .zip of them");
    try {
      const { manifest, weightData, digest } = await loadModelParts(files);
      return await TfjsEncoder.fromParts(manifest, weightData, digest);
    } finally {
      await files.close();
    }
  }

  /** `digest`: sha256 over model.json and the shards in manifest order (names the model in reports). */
  static async fromParts(manifest: TfjsModelManifest, weightData: ArrayBuffer, digest: string): Promise<TfjsEncoder> {
    const { tf, backend } = await loadTfjs();
    const handler = tf.io.fromMemory({ modelTopology: manifest.modelTopology, weightSpecs: manifest.weights, weightData, format: manifest.format });
    let model: Runnable;
    let inputShape: readonly (number | null)[];
    try {
      if (manifest.format === "layers-model") {
        const layers = await tf.loadLayersModel(handler);
        model = layers;
        inputShape = layers.inputs[0].shape;
      } else {
        const graph = await tf.loadGraphModel(handler);
        model = { predict: (x) => graph.predict(x), dispose: () => graph.dispose() };
        inputShape = graph.inputs[0]?.shape ?? [];
      }
    } catch (e) {
      throw new SslmemError("model_invalid", `TensorFlow.js could not load the model: ${(e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 200)}`);
    }
    const [, h, w, c] = inputShape;
    if (inputShape.length !== 4 || typeof h !== "number" || typeof w !== "number" || h < 1 || w < 1 || c !== 3) {
      model.dispose();
      throw new SslmemError("model_unsupported", `the TF.js model's input is [${inputShape.map((d) => d ?? "?").join(",")}]; an encoder takes one [N,H,W,3] image batch with static H and W`);
    }
    if (h * w > MAX_VIEW_PIXELS) {
      model.dispose();
      throw new SslmemError("model_unsupported", `the TF.js model's input is ${h}×${w} pixels; at most ${MAX_VIEW_PIXELS} (every view is made at the model's input size)`);
    }
    return new TfjsEncoder(tf, model, backend, manifest.format, [h, w, 3], digest);
  }

  /** Representation rows [n, dim] of n NHWC views (a >2-D output is flattened, as `pool: flatten`). */
  async embed(views: Float32Array, n: number): Promise<{ data: Float32Array; dim: number }> {
    const [h, w, c] = this.viewShape;
    if (views.length !== n * h * w * c) throw new SslmemError("internal", `embed expects ${n} views of ${h * w * c} values, got ${views.length}`);
    const input = this.tf.tensor4d(views, [n, h, w, c], "float32");
    try {
      return await this.embedTensor(input);
    } finally {
      input.dispose();
    }
  }

  /** As embed, for views already on the TF.js backend (tf-augment.ts): [n, H, W, 3], left to the caller to dispose. */
  async embedTensor(input: Tensor4D): Promise<{ data: Float32Array; dim: number }> {
    const [n, h, w, c] = input.shape;
    const [eh, ew] = this.viewShape;
    if (h !== eh || w !== ew || c !== 3) throw new SslmemError("internal", `embed expects views of ${eh}×${ew}×3, got ${h}×${w}×${c}`);
    const out = this.model.predict(input);
    const outputs = Array.isArray(out) ? out : [out];
    try {
      const tensor = outputs[0];
      if (!(tensor instanceof this.tf.Tensor)) throw new SslmemError("model_output_invalid", "the TF.js model did not return a tensor");
      const data = Float32Array.from(await tensor.data());
      const dim = tensor.size / n;
      for (let i = 0; i < data.length; i++) {
        if (data[i] - data[i] !== 0) throw new SslmemError("model_output_invalid", `the TF.js model's output contains a non-finite value (view ${Math.floor(i / dim)})`);
      }
      return { data, dim };
    } finally {
      for (const t of outputs) if (t instanceof this.tf.Tensor) t.dispose();
    }
  }

  release(): void {
    this.model.dispose();
  }
}
