/**
 * An image encoder as the audit sees it: one float32 image input of rank 4, a preprocessing
 * contract (input size, layout, value range, mean/std), and `embed`, which turns a batch of
 * preprocessed views into representation rows.
 */
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import type { PreprocessingOverrides } from "../core/audit-config.ts";
import {
  describePresets,
  isNormalizePreset,
  looksLike255Scale,
  NORMALIZE_PRESET_NAMES,
  presetNormalization,
  scaleAdvice,
  type NormalizePreset,
} from "../core/normalization.ts";
import { formatDims, quoteName, describeValue, type Dim, type ValueSummary } from "./onnx/inspect.ts";
import type { ModelSession } from "./session.ts";
import {
  assertFinite,
  checkPooling,
  poolRows,
  selectOutput,
  staticRepresentationDim,
  tensorToFloat32,
  type Pooling,
  type Rows,
} from "./representation.ts";

export type Layout = "NCHW" | "NHWC";
type Rgb = [number, number, number];

export interface EncoderInput {
  name: string;
  dtype: "float32";
  dims: Dim[];
  /** Guessed from where the 3 colour channels sit; null when the shape does not tell. */
  layout: Layout | null;
  /** Static batch size the model was exported with (often 1); null when the batch is dynamic. */
  batch: number | null;
}

export interface EncoderInfo {
  digest: string;
  producer: { name: string; version: string };
  opset: number;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  input: EncoderInput;
  /** Preprocessing the model declares about itself in metadata_props (see METADATA_KEYS). */
  declared: DeclaredPreprocessing;
}

/**
 * metadata_props keys a model can carry to describe its own preprocessing (comma lists), written
 * by `sslmem stamp`. `sslmem.normalize` names a preset and stands for range, mean and std.
 */
export const METADATA_KEYS = {
  normalize: "sslmem.normalize",
  mean: "sslmem.mean",
  std: "sslmem.std",
  range: "sslmem.range",
  layout: "sslmem.layout",
} as const;

export interface DeclaredPreprocessing {
  /** The preset the model named, when it named one (its values are in range/mean/std). */
  normalize?: NormalizePreset;
  mean?: Rgb;
  std?: Rgb;
  range?: [number, number];
  layout?: Layout;
}

export type PreprocessingSource = "override" | "model" | "default";

/**
 * A flattened [N,T,D] or [N,C,H,W] output wider than this needs an explicit pooling: flattening a
 * ResNet's [N,512,7,7] into 25 088 dimensions is rarely what the user meant, and it is slow.
 */
export const MAX_DEFAULT_FLATTEN_DIM = 8192;

export interface ResolvedPreprocessing {
  height: number;
  width: number;
  layout: Layout;
  /** Value range the encoder expects before mean/std. */
  range: [number, number];
  /** Per-channel mean/std on the [0,1] scale (torchvision convention). */
  mean: Rgb;
  std: Rgb;
  /** Where each value came from, for the report. */
  sources: { inputSize: "model" | "override"; layout: PreprocessingSource | "shape"; range: PreprocessingSource; mean: PreprocessingSource; std: PreprocessingSource };
}

/** Identity values for the parts of a normalization that an explicit one leaves out (e.g. --range alone). */
const IDENTITY = { range: [0, 1] as [number, number], mean: [0, 0, 0] as Rgb, std: [1, 1, 1] as Rgb };

/** The three ways to say how an encoder's input is normalized, for preprocessing_required. */
export const NORMALIZATION_ADVICE = `pass --normalize ${NORMALIZE_PRESET_NAMES.join("|")} (${describePresets()}), or --mean a,b,c --std a,b,c [--range LO,HI] on the [0,1] scale, or stamp the model once with 'sslmem stamp MODEL.onnx --normalize …' (API: config.preprocessing.normalize or mean/std)`;

/** The encoder contract of a loaded model; refuses models that are not single-image encoders. */
export function inspectEncoder(session: ModelSession): EncoderInfo {
  return encoderInfoOf(session.model, session.digest);
}

/** The same contract from the parsed model alone (no ONNX Runtime session): for validating a submission. */
export function encoderInfoOf(model: ModelSession["model"], digest: string): EncoderInfo {
  if (model.inputs.length !== 1) {
    throw new SslmemError(
      "model_unsupported",
      model.inputs.length === 0
        ? "the model has no inputs; an encoder takes one image batch"
        : `the model has ${model.inputs.length} inputs (${model.inputs.map(describeValue).join(", ")}); an encoder must take exactly one image batch — export with the other inputs folded in`,
    );
  }
  const v = model.inputs[0];
  if (v.kind !== "tensor" || v.dtype !== "float32") {
    throw new SslmemError(
      "model_unsupported",
      `input ${describeValue(v)} is not float32; sslmem feeds float32 images — export the encoder with a float32 input`,
    );
  }
  if (v.dims === null || v.dims.length !== 4) {
    throw new SslmemError(
      "model_unsupported",
      `input ${describeValue(v)} must have rank 4 ([N,3,H,W] or [N,H,W,3])`,
    );
  }
  const dims = v.dims;
  return {
    digest,
    producer: model.producer,
    opset: model.opset,
    inputs: model.inputs,
    outputs: model.outputs,
    input: { name: v.name, dtype: "float32", dims, layout: guessLayout(v.name, dims), batch: typeof dims[0] === "number" ? dims[0] : null },
    declared: readDeclared(model.metadata),
  };
}

function guessLayout(name: string, dims: Dim[]): Layout | null {
  if (dims[1] === 3) return "NCHW";
  if (dims[3] === 3) return "NHWC";
  if (typeof dims[1] === "number" && typeof dims[3] === "number") {
    throw new SslmemError(
      "model_unsupported",
      `input ${quoteName(name)} ${formatDims(dims)} has no axis of 3 colour channels; sslmem audits RGB encoders`,
    );
  }
  return null;
}

function readDeclared(metadata: Record<string, string>): DeclaredPreprocessing {
  const out: DeclaredPreprocessing = {};
  const list = (key: string, length: number): number[] | undefined => {
    const raw = metadata[key];
    if (raw === undefined) return undefined;
    const values = raw.split(",").map((s) => Number(s.trim()));
    if (values.length !== length || values.some((x) => !Number.isFinite(x))) {
      throw new SslmemError("model_invalid", `model metadata ${key} must be ${length} comma-separated numbers`);
    }
    return values;
  };
  const preset = metadata[METADATA_KEYS.normalize];
  if (preset !== undefined) {
    if (!isNormalizePreset(preset)) {
      throw new SslmemError("model_invalid", `model metadata ${METADATA_KEYS.normalize} must be one of ${NORMALIZE_PRESET_NAMES.join(", ")}, got '${preset.slice(0, 40)}'`);
    }
    if ([METADATA_KEYS.mean, METADATA_KEYS.std, METADATA_KEYS.range].some((k) => metadata[k] !== undefined)) {
      throw new SslmemError("model_invalid", `model metadata ${METADATA_KEYS.normalize} cannot be combined with sslmem.mean/std/range; re-stamp the model`);
    }
    Object.assign(out, { normalize: preset }, presetNormalization(preset));
  }
  const mean = list(METADATA_KEYS.mean, 3);
  const std = list(METADATA_KEYS.std, 3);
  const range = list(METADATA_KEYS.range, 2);
  for (const [what, values] of [["mean", mean], ["std", std]] as const) {
    if (values && looksLike255Scale(values)) throw new SslmemError("model_invalid", `model metadata sslmem.${what}: ${scaleAdvice(what, values)}; re-stamp the model`);
  }
  if (mean) out.mean = mean as Rgb;
  if (std) {
    if (std.some((s) => s <= 0)) throw new SslmemError("model_invalid", `model metadata ${METADATA_KEYS.std} must be positive`);
    out.std = std as Rgb;
  }
  if (range) {
    if (!(range[0] < range[1])) throw new SslmemError("model_invalid", `model metadata ${METADATA_KEYS.range} must be low,high with low < high`);
    out.range = range as [number, number];
  }
  const layout = metadata[METADATA_KEYS.layout];
  if (layout !== undefined) {
    if (layout !== "NCHW" && layout !== "NHWC") throw new SslmemError("model_invalid", `model metadata ${METADATA_KEYS.layout} must be NCHW or NHWC`);
    out.layout = layout;
  }
  return out;
}

/** Axis positions of channels, height and width. */
export function axes(layout: Layout): { c: number; h: number; w: number } {
  return layout === "NCHW" ? { c: 1, h: 2, w: 3 } : { c: 3, h: 1, w: 2 };
}

/**
 * The preprocessing the audit feeds this encoder. Precedence: user overrides (a preset or
 * range/mean/std), then the model's metadata. The normalization is never guessed: when neither
 * says anything about it the audit is refused (preprocessing_required) before any work. Parts an
 * explicit normalization leaves out (e.g. --range alone) are the identity. The input size comes
 * from the model's static H×W; a dynamic model needs `inputSize`, and an override may not
 * contradict a static size.
 */
/**
 * The normalization of an encoder's input: the request's (a preset, or range/mean/std), else what
 * the model declares, the identity filling the parts neither gives. Refused when neither says
 * anything: a wrong normalization silently ruins the scores, so it is never guessed.
 */
export function resolveNormalization(overrides: PreprocessingOverrides, declared: DeclaredPreprocessing = {}) {
  const given = overrides.normalize !== undefined ? presetNormalization(overrides.normalize) : overrides;
  const explicit = [given.range, given.mean, given.std, declared.range, declared.mean, declared.std].some((v) => v !== undefined);
  if (!explicit) {
    throw new SslmemError("preprocessing_required", `the encoder does not declare how its input is normalized, and sslmem never guesses it (a wrong normalization silently ruins the scores): ${NORMALIZATION_ADVICE}`);
  }
  return {
    range: pick(given.range, declared.range, IDENTITY.range),
    mean: pick(given.mean, declared.mean, IDENTITY.mean),
    std: pick(given.std, declared.std, IDENTITY.std),
  };
}

export function resolvePreprocessing(info: EncoderInfo, overrides: PreprocessingOverrides = {}): ResolvedPreprocessing {
  const { dims } = info.input;
  const layoutSource: ResolvedPreprocessing["sources"]["layout"] = overrides.layout ? "override" : info.declared.layout ? "model" : "shape";
  const layout = overrides.layout ?? info.declared.layout ?? info.input.layout;
  if (layout === null) {
    throw new SslmemError(
      "preprocessing_required",
      `the encoder's input ${formatDims(dims)} does not show where the colour channels are; pass --layout NCHW or --layout NHWC (preprocessing.layout)`,
    );
  }
  const ax = axes(layout);
  const channels = dims[ax.c];
  if (typeof channels === "number" && channels !== 3) {
    throw new SslmemError(
      "invalid_config",
      `layout ${layout} puts the channels of input ${formatDims(dims)} on an axis of size ${channels}, not 3; the layout does not fit this model`,
    );
  }
  const staticH = dims[ax.h];
  const staticW = dims[ax.w];
  let height: number;
  let width: number;
  if (overrides.inputSize) {
    ({ height, width } = overrides.inputSize);
    if ((typeof staticH === "number" && staticH !== height) || (typeof staticW === "number" && staticW !== width)) {
      throw new SslmemError(
        "invalid_config",
        `--input-size ${height}x${width} contradicts the model's fixed input ${formatDims(dims)} (${layout}); drop the flag or pass the model's size`,
      );
    }
  } else if (typeof staticH === "number" && typeof staticW === "number") {
    height = staticH;
    width = staticW;
  } else {
    throw new SslmemError(
      "preprocessing_required",
      `the encoder's input ${formatDims(dims)} has no fixed height and width; pass --input-size HxW (preprocessing.inputSize), e.g. --input-size 224x224`,
    );
  }
  const { range, mean, std } = resolveNormalization(overrides, info.declared);
  return {
    height,
    width,
    layout,
    range: range.value,
    mean: mean.value,
    std: std.value,
    sources: {
      inputSize: overrides.inputSize ? "override" : "model",
      layout: layoutSource,
      range: range.source,
      mean: mean.source,
      std: std.source,
    },
  };
}

function pick<T extends number[]>(override: T | undefined, declared: T | undefined, fallback: T): { value: T; source: PreprocessingSource } {
  if (override !== undefined) return { value: [...override] as T, source: "override" };
  if (declared !== undefined) return { value: [...declared] as T, source: "model" };
  return { value: [...fallback] as T, source: "default" };
}

/** Why the encoder cannot take views of this size/layout, or null when it can. */
export function inputMismatch(info: EncoderInfo, prep: Pick<ResolvedPreprocessing, "height" | "width" | "layout">): string | null {
  const { dims } = info.input;
  const ax = axes(prep.layout);
  const want: [number, Dim][] = [
    [3, dims[ax.c]],
    [prep.height, dims[ax.h]],
    [prep.width, dims[ax.w]],
  ];
  for (const [size, dim] of want) {
    if (typeof dim === "number" && dim !== size) {
      const shape = prep.layout === "NCHW" ? `[N,3,${prep.height},${prep.width}]` : `[N,${prep.height},${prep.width},3]`;
      return `its input ${formatDims(dims)} does not accept ${shape}`;
    }
  }
  return null;
}

export interface EncoderOptions {
  /** Output used as the representation; default: the first output. */
  outputName?: string;
  pool?: Pooling;
}

export class Encoder {
  private readonly bound: Bound;

  private constructor(
    session: ModelSession,
    readonly info: EncoderInfo,
    readonly preprocessing: ResolvedPreprocessing,
    readonly output: ValueSummary,
    readonly pool: Pooling,
    /** Width of one representation row. */
    readonly dim: number,
  ) {
    this.bound = { session, info, preprocessing, output, pool };
  }

  /**
   * Binds a session to its output and preprocessing. The representation width comes from the
   * declared output shape, or from one run on a zero view when the shape is symbolic.
   */
  static async create(session: ModelSession, info: EncoderInfo, preprocessing: ResolvedPreprocessing, options: EncoderOptions = {}): Promise<Encoder> {
    const pool = options.pool ?? "flatten";
    const output = selectOutput(info.outputs, options.outputName);
    checkPooling(output, pool);
    const mismatch = inputMismatch(info, preprocessing);
    if (mismatch !== null) throw new SslmemError("invalid_config", `the encoder cannot take the audit's views: ${mismatch}`);
    let dim = staticRepresentationDim(output.dims, pool);
    let probedDims: readonly number[] | null = null;
    if (dim === null) {
      const batch = info.input.batch ?? 1;
      const probe = await runViews({ session, info, preprocessing, output, pool }, new Float32Array(batch * viewSizeOf(preprocessing)), batch);
      dim = probe.dim;
      probedDims = probe.dims;
    }
    const rank = probedDims?.length ?? output.dims?.length ?? 2;
    if (options.pool === undefined && rank > 2 && dim > MAX_DEFAULT_FLATTEN_DIM) {
      const shape = formatDims(probedDims ? [...probedDims] : (output.dims ?? []));
      throw new SslmemError(
        "invalid_config",
        `--pool (config.pool) is required: output ${quoteName(output.name)} ${shape} would be flattened to ${dim} values per image (more than ${MAX_DEFAULT_FLATTEN_DIM}); pass --pool mean (global average, usual for CNN feature maps), --pool cls (token 0 of a ViT) or --pool flatten to keep every value (the authors' MAE convention)`,
      );
    }
    return new Encoder(session, info, preprocessing, output, pool, dim);
  }

  get provider(): string {
    return this.bound.session.provider;
  }

  /** Frees the session's native memory until the next `embed` (session.ts, `suspend`). */
  async suspend(): Promise<void> {
    await this.bound.session.suspend();
  }

  /** Releases the session (a no-op for sessions shared through a SessionCache). */
  async release(): Promise<void> {
    await this.bound.session.release();
  }

  /** Values in one preprocessed view (3·H·W). */
  get viewSize(): number {
    return viewSizeOf(this.preprocessing);
  }

  /** Shape of one view tensor without the batch axis, in the encoder's layout. */
  get viewShape(): [number, number, number] {
    return viewShapeOf(this.preprocessing);
  }

  /**
   * Representation rows of `n` preprocessed views laid out contiguously in the encoder's layout.
   * A model exported with a static batch runs in chunks of that batch (the last one zero-padded).
   */
  async embed(views: Float32Array, n: number): Promise<{ data: Float32Array; dim: number }> {
    const size = this.viewSize;
    if (!Number.isInteger(n) || n < 1 || views.length !== n * size) {
      throw new SslmemError("internal", `embed expects ${n} views of ${size} values, got ${views.length} values`);
    }
    const chunk = this.info.input.batch;
    if (chunk === null) {
      const rows = this.checked(await runViews(this.bound, views, n));
      return { data: rows.data, dim: rows.dim };
    }
    const out = new Float32Array(n * this.dim);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      let slice = views.subarray(start * size, (start + count) * size);
      if (count < chunk) {
        const padded = new Float32Array(chunk * size);
        padded.set(slice);
        slice = padded;
      }
      const rows = this.checked(await runViews(this.bound, slice, chunk));
      out.set(rows.data.subarray(0, count * this.dim), start * this.dim);
    }
    return { data: out, dim: this.dim };
  }

  private checked(rows: Rows): Rows {
    if (rows.dim !== this.dim) {
      throw new SslmemError(
        "model_output_invalid",
        `output ${quoteName(this.output.name)} gave ${rows.dim} values per view instead of ${this.dim}; its shape must not depend on the batch`,
      );
    }
    return rows;
  }
}

function viewSizeOf(p: ResolvedPreprocessing): number {
  return 3 * p.height * p.width;
}

function viewShapeOf(p: ResolvedPreprocessing): [number, number, number] {
  return p.layout === "NCHW" ? [3, p.height, p.width] : [p.height, p.width, 3];
}

interface Bound {
  session: ModelSession;
  info: EncoderInfo;
  preprocessing: ResolvedPreprocessing;
  output: ValueSummary;
  pool: Pooling;
}

/** One session run on `n` views → pooled, finite rows (and the raw output shape). */
async function runViews(e: Bound, views: Float32Array, n: number): Promise<Rows & { dims: number[] }> {
  const feeds = { [e.info.input.name]: new ort.Tensor("float32", views, [n, ...viewShapeOf(e.preprocessing)]) };
  const result = await e.session.run(feeds, [e.output.name]);
  const tensor = result[e.output.name];
  const dims = tensor.dims.map(Number);
  if (dims[0] !== n) {
    throw new SslmemError(
      "model_output_invalid",
      `output ${quoteName(e.output.name)} has shape ${formatDims(dims)} for a batch of ${n}; the first axis must be the batch`,
    );
  }
  const rows = poolRows(tensorToFloat32(tensor), dims, e.pool, e.output.name);
  assertFinite(rows, e.output.name);
  return { ...rows, dims };
}
