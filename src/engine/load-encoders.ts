/**
 * Loading the target and reference encoders of an audit, in the order that fails fastest:
 * static checks and sessions, then the preprocessing contract, then compatibility — all before
 * the first view is augmented.
 */
import { isSslmemError, SslmemError } from "../core/errors.ts";
import type { PreprocessingOverrides } from "../core/audit-config.ts";
import { checkCompatible, checkInputsCompatible } from "./compatibility.ts";
import { Encoder, inspectEncoder, resolvePreprocessing, type EncoderInfo, type EncoderOptions, type ResolvedPreprocessing } from "./encoder.ts";
import { formatDims } from "./onnx/inspect.ts";
import type { EngineLogger, ProviderChoice } from "./providers.ts";
import { createSession, type SessionCache, type SessionOptions } from "./session.ts";

export interface LoadEncodersOptions extends EncoderOptions {
  providers: ProviderChoice;
  intraOpThreads?: number;
  logger?: EngineLogger;
  /** Reuse sessions across audits; without it each call creates fresh sessions. */
  cache?: SessionCache;
  preprocessing?: PreprocessingOverrides;
}

export interface EncoderPair {
  target: Encoder;
  reference: Encoder;
  preprocessing: ResolvedPreprocessing;
}

export async function loadEncoderPair(targetBytes: Uint8Array, referenceBytes: Uint8Array, options: LoadEncodersOptions): Promise<EncoderPair> {
  const sessionOptions: SessionOptions = { providers: options.providers, intraOpThreads: options.intraOpThreads, logger: options.logger };
  const open = (bytes: Uint8Array) => (options.cache ? options.cache.get(bytes, sessionOptions) : createSession(bytes, sessionOptions));
  // One after the other: loading is CPU-bound, and the first refusal should stop the second load.
  const targetSession = await open(targetBytes);
  const referenceSession = await open(referenceBytes);
  const targetInfo = inspectEncoder(targetSession);
  const referenceInfo = inspectEncoder(referenceSession);
  const preprocessing = resolvePairPreprocessing(targetInfo, referenceInfo, options.preprocessing ?? {});
  checkInputsCompatible(targetInfo, referenceInfo, preprocessing);
  const encoderOptions: EncoderOptions = { outputName: options.outputName, pool: options.pool };
  const target = await Encoder.create(targetSession, targetInfo, preprocessing, encoderOptions);
  const reference = await Encoder.create(referenceSession, referenceInfo, preprocessing, encoderOptions);
  checkCompatible(target, reference, preprocessing);
  return { target, reference, preprocessing };
}

/**
 * The preprocessing both encoders are fed. It is resolved on the target; when the target leaves
 * its input size or layout open, a reference with a fixed input supplies them.
 */
export function resolvePairPreprocessing(target: EncoderInfo, reference: EncoderInfo, overrides: PreprocessingOverrides): ResolvedPreprocessing {
  try {
    return resolvePreprocessing(target, overrides);
  } catch (e) {
    if (!isSslmemError(e) || e.code !== "preprocessing_required") throw e;
    let fromReference: ResolvedPreprocessing;
    try {
      fromReference = resolvePreprocessing(reference, overrides);
    } catch {
      throw e; // neither model fixes it: the target's message says which flag to pass
    }
    let resolved: ResolvedPreprocessing;
    try {
      resolved = resolvePreprocessing(target, {
        ...overrides,
        inputSize: { height: fromReference.height, width: fromReference.width },
        layout: fromReference.layout,
      });
    } catch (inner) {
      if (isSslmemError(inner) && inner.code === "invalid_config") {
        throw new SslmemError(
          "encoders_incompatible",
          `the reference encoder's input ${formatDims(reference.input.dims)} does not fit the target encoder's input ${formatDims(target.input.dims)}`,
        );
      }
      throw inner;
    }
    return {
      ...resolved,
      sources: {
        ...resolved.sources,
        inputSize: fromReference.sources.inputSize,
        layout: overrides.layout ? "override" : fromReference.sources.layout,
      },
    };
  }
}
