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
import { encoderInfoOf, MAX_DEFAULT_FLATTEN_DIM, type EncoderInfo, type ResolvedPreprocessing } from "./encoder.ts";
import { selectLayers, type LayerPair } from "./layers.ts";
import { resolvePairPreprocessing } from "./load-encoders.ts";
import { formatDims, inspectOnnx, quoteName } from "./onnx/inspect.ts";
import { checkPooling, selectOutput, staticRepresentationDim } from "./representation.ts";

export interface ValidatedEncoder {
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

function describeEncoder(info: EncoderInfo, config: AuditConfig): ValidatedEncoder {
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
