/**
 * Target and reference must take the same views and give representations of the same width:
 * SSLMem compares their alignment on the very same augmented views. These checks run before any
 * audit work, so an incompatible pair fails in seconds with both shapes named.
 */
import { SslmemError } from "../core/errors.ts";
import { formatDims, quoteName } from "./onnx/inspect.ts";
import { inputMismatch, type Encoder, type EncoderInfo, type ResolvedPreprocessing } from "./encoder.ts";

type Role = "target" | "reference";

function describe(info: EncoderInfo): string {
  return `input ${formatDims(info.input.dims)}`;
}

/** Both encoders accept the resolved input size and layout, and their own metadata agrees with it. */
export function checkInputsCompatible(target: EncoderInfo, reference: EncoderInfo, preprocessing: ResolvedPreprocessing): void {
  const roles: [Role, EncoderInfo][] = [
    ["target", target],
    ["reference", reference],
  ];
  for (const [role, info] of roles) {
    const mismatch = inputMismatch(info, preprocessing);
    if (mismatch !== null) {
      throw new SslmemError(
        "encoders_incompatible",
        `the ${role} encoder cannot take the audit's views: ${mismatch} (target ${describe(target)}, reference ${describe(reference)}); both encoders must accept the same input size and layout`,
        { target: target.input.dims, reference: reference.input.dims },
      );
    }
  }
  // Values the user set explicitly apply to both; a model's own declaration must not be overruled
  // silently by the other model's.
  for (const key of ["range", "mean", "std"] as const) {
    if (preprocessing.sources[key] === "override") continue;
    for (const [role, info] of roles) {
      const declared = info.declared[key];
      if (declared !== undefined && declared.some((v, i) => v !== preprocessing[key][i])) {
        throw new SslmemError(
          "encoders_incompatible",
          `the ${role} encoder declares ${key} [${declared.join(", ")}] but the audit would use [${preprocessing[key].join(", ")}]; both encoders are fed the same views — pass --${key} explicitly if one normalization is right for both`,
        );
      }
    }
  }
  const declaredLayouts = roles.map(([, info]) => info.declared.layout).filter((l) => l !== undefined);
  if (preprocessing.sources.layout !== "override" && declaredLayouts.some((l) => l !== preprocessing.layout)) {
    throw new SslmemError("encoders_incompatible", `the encoders declare different input layouts (${declaredLayouts.join(" vs ")}); both are fed the same views`);
  }
}

/** The full check on loaded encoders: inputs as above, and the same representation width. */
export function checkCompatible(target: Encoder, reference: Encoder, preprocessing: ResolvedPreprocessing): void {
  checkInputsCompatible(target.info, reference.info, preprocessing);
  if (target.dim !== reference.dim) {
    throw new SslmemError(
      "encoders_incompatible",
      `the representations differ in width: target output ${quoteName(target.output.name)} ${formatDims(target.output.dims)} gives ${target.dim} values per view with pool "${target.pool}", reference output ${quoteName(reference.output.name)} ${formatDims(reference.output.dims)} gives ${reference.dim}; both encoders must have the same architecture`,
      { targetDim: target.dim, referenceDim: reference.dim },
    );
  }
}
