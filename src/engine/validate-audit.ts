/**
 * Validating an audit without running it, and without ONNX Runtime: the checks `POST
 * /v1/audits:validate` answers in the request (the models are parsed, never executed). Both
 * encoders' contract (input, resolved preprocessing and where each value came from, output,
 * pooling, dimension when the declared shape tells it), the points by role with every skipped file
 * named, and the encoder passes. What needs a session (the provider, a probe batch, an ETA, the
 * health sample) is `sslmem inspect`'s.
 */
import { createHash } from "node:crypto";
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { PointSet } from "../data/point-set.ts";
import { checkInputsCompatible } from "./compatibility.ts";
import type { UnitMemConfig } from "../core/unitmem-report.ts";
import { encoderInfoOf, MAX_DEFAULT_FLATTEN_DIM, resolveNormalization, resolvePreprocessing, type EncoderInfo, type ResolvedPreprocessing } from "./encoder.ts";
import { layersNeedOnnx, selectEncoderLayers, selectLayers, type LayerPair } from "./layers.ts";
import { resolvePairPreprocessing } from "./load-encoders.ts";
import { formatDims, inspectOnnx, quoteName } from "./onnx/inspect.ts";
import { checkPooling, selectOutput, staticRepresentationDim } from "./representation.ts";
import { loadModelParts, openTfjsModel } from "./tfjs/model-files.ts";

export interface ValidatedEncoder {
  format: "onnx";
  digest: string;
  input: { name: string; shape: (number | string | null)[] };
  output: { name: string; shape: (number | string | null)[] | null };
  pooling: "none" | "flatten" | "mean" | "cls";
  /** null when only a run would tell (a symbolic output shape). */
  dim: number | null;
}

export interface ValidatedPoints {
  kind: string;
  count: number;
  skipped: { id: string; reason: string }[];
}

export interface AuditValidation {
  valid: true;
  kind: "sslmem";
  target: ValidatedEncoder;
  reference: ValidatedEncoder;
  preprocessing: ResolvedPreprocessing;
  candidates: ValidatedPoints;
  controls?: ValidatedPoints;
  viewsPerPoint: number;
  encoderPasses: number;
  /** LayerMem: the layers `config.layers` resolves to in both graphs (the engine's rule, before any run). */
  layers?: LayerPair[];
}

function encoderOf(bytes: Uint8Array): EncoderInfo {
  return encoderInfoOf(inspectOnnx(bytes), `sha256:${createHash("sha256").update(bytes).digest("hex")}`);
}

function describeEncoder(info: EncoderInfo, config: Pick<AuditConfig, "outputName" | "pool">): ValidatedEncoder {
  const output = selectOutput(info.outputs, config.outputName);
  const pool = config.pool ?? "flatten";
  checkPooling(output, pool);
  const dim = staticRepresentationDim(output.dims, pool);
  const rank = output.dims?.length ?? 2;
  if (config.pool === undefined && rank > 2 && dim !== null && dim > MAX_DEFAULT_FLATTEN_DIM) {
    throw new SslmemError(
      "invalid_config",
      `config.pool is required: output ${quoteName(output.name)} ${formatDims(output.dims ?? [])} would be flattened to ${dim} values per image (more than ${MAX_DEFAULT_FLATTEN_DIM}); set pool to mean, cls or flatten`,
    );
  }
  return {
    format: "onnx",
    digest: info.digest,
    input: { name: info.input.name, shape: info.input.dims },
    output: { name: output.name, shape: output.dims },
    pooling: rank <= 2 ? "none" : pool,
    dim,
  };
}

function points(set: PointSet): ValidatedPoints {
  return { kind: set.kind, count: set.size, skipped: set.skipped.map(({ id, reason }) => ({ id, reason })) };
}

export function validateAudit(inputs: { target: Uint8Array; reference: Uint8Array; candidates: PointSet; controls?: PointSet }, config: AuditConfig): AuditValidation {
  const target = encoderOf(inputs.target);
  const reference = encoderOf(inputs.reference);
  const preprocessing = resolvePairPreprocessing(target, reference, config.preprocessing);
  checkInputsCompatible(target, reference, preprocessing);
  const t = describeEncoder(target, config);
  const r = describeEncoder(reference, config);
  if (t.dim !== null && r.dim !== null && t.dim !== r.dim) {
    throw new SslmemError("encoders_incompatible", `the representations differ in width: target ${t.dim}, reference ${r.dim}; both encoders must have the same architecture`);
  }
  // The same selection the engine makes at the start of the audit: a name either encoder lacks is
  // refused here with the engine's error, before anything is queued.
  const layers = config.layers === undefined ? undefined : selectLayers(inputs.target, inputs.reference, config.layers, { target: t.output.name, reference: r.output.name });
  const perPoint = viewsPerPoint(config.views, config.pairing);
  const total = inputs.candidates.size + (inputs.controls?.size ?? 0);
  return {
    valid: true,
    kind: "sslmem",
    target: t,
    reference: r,
    preprocessing,
    candidates: points(inputs.candidates),
    ...(inputs.controls ? { controls: points(inputs.controls) } : {}),
    viewsPerPoint: perPoint,
    encoderPasses: total * perPoint * 2,
    ...(layers ? { layers } : {}),
  };
}

/** A TF.js encoder as validation sees it: its files and manifest checked, the model not loaded. */
export interface ValidatedTfjsEncoder {
  format: "tfjs";
  modelFormat: "layers-model" | "graph-model";
  digest: string;
}

/**
 * A TF.js model blob (tar/zip of model.json + shards): the manifest checks (model-json.ts) and the
 * shards against it, as loading does. Its input size and representation width need TensorFlow.js,
 * so the audit checks them when it starts.
 */
export async function validateTfjsModel(path: string): Promise<ValidatedTfjsEncoder | null> {
  const files = await openTfjsModel(path);
  if (!files) return null;
  try {
    const { manifest, digest } = await loadModelParts(files);
    return { format: "tfjs", modelFormat: manifest.format, digest };
  } finally {
    await files.close();
  }
}

export interface MixedAuditValidation {
  valid: true;
  kind: "sslmem";
  target: ValidatedEncoder | ValidatedTfjsEncoder;
  reference: ValidatedEncoder | ValidatedTfjsEncoder;
  candidates: ValidatedPoints;
  controls?: ValidatedPoints;
  viewsPerPoint: number;
  encoderPasses: number;
  /** What only the audit checks (it loads the TF.js models). */
  deferred: string[];
}

/**
 * An audit with a TF.js side: each ONNX side's contract as for an ONNX pair, the normalization
 * given when no ONNX side can resolve it, and the points. LayerMem is ONNX-only.
 */
export function validateMixedAudit(
  sides: { target: Uint8Array | ValidatedTfjsEncoder; reference: Uint8Array | ValidatedTfjsEncoder },
  points_: { candidates: PointSet; controls?: PointSet },
  config: AuditConfig,
): MixedAuditValidation {
  if (config.layers !== undefined) throw layersNeedOnnx();
  const describe = (side: Uint8Array | ValidatedTfjsEncoder) => {
    if (!(side instanceof Uint8Array)) return side;
    const info = encoderOf(side);
    resolvePreprocessing(info, config.preprocessing);
    return describeEncoder(info, config);
  };
  const target = describe(sides.target);
  const reference = describe(sides.reference);
  if (target.format === "tfjs" && reference.format === "tfjs") resolveNormalization(config.preprocessing);
  const perPoint = viewsPerPoint(config.views, config.pairing);
  return {
    valid: true,
    kind: "sslmem",
    target,
    reference,
    candidates: points(points_.candidates),
    ...(points_.controls ? { controls: points(points_.controls) } : {}),
    viewsPerPoint: perPoint,
    encoderPasses: (points_.candidates.size + (points_.controls?.size ?? 0)) * perPoint * 2,
    deferred: ["the TF.js encoders' input size and representation width, and that both representations are as wide, are checked when the audit loads the models"],
  };
}

export interface UnitMemValidation {
  valid: true;
  kind: "unitmem";
  encoder: ValidatedEncoder;
  preprocessing: ResolvedPreprocessing;
  /** The layers whose units would be scored (`config.layers` resolved by the engine's rule). */
  layers: string[];
  candidates: ValidatedPoints;
  viewsPerPoint: number;
  encoderPasses: number;
}

/** A UnitMem audit (kind `unitmem`): one ONNX encoder, its layers, the candidates (at least two). */
export function validateUnitMemAudit(inputs: { encoder: Uint8Array; candidates: PointSet }, config: UnitMemConfig): UnitMemValidation {
  const info = encoderOf(inputs.encoder);
  const preprocessing = resolvePreprocessing(info, config.preprocessing);
  // UnitMem averages a feature map's units spatially, as the engine does (pool "mean").
  const encoder = describeEncoder(info, { outputName: config.outputName, pool: "mean" });
  const layers = selectEncoderLayers(inputs.encoder, config.layers, encoder.output.name);
  if (inputs.candidates.size < 2) throw new SslmemError("candidates_empty", "UnitMem compares each unit's response to one point with the others: it needs at least two points");
  return {
    valid: true,
    kind: "unitmem",
    encoder,
    preprocessing,
    layers,
    candidates: points(inputs.candidates),
    viewsPerPoint: config.views,
    encoderPasses: inputs.candidates.size * config.views,
  };
}
