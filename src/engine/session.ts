/**
 * ONNX Runtime sessions for uploaded models. Every model passes the static checks of
 * onnx/inspect.ts before ORT sees it, and ORT's errors leave here as SslmemErrors.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import { inspectOnnx, type OnnxModelSummary } from "./onnx/inspect.ts";
import { ortExecutionProviders, sanitizeOrtMessage, silentLogger, type EngineLogger, type ProviderChoice, type ProviderName } from "./providers.ts";

export interface SessionOptions {
  /** The provider decision (providers.ts), or an explicit ORT list. */
  providers: ProviderChoice | ProviderName[];
  /** Threads of the intra-op pool; default: the number of cores. */
  intraOpThreads?: number;
  logger?: EngineLogger;
  /**
   * ORT's default lets idle pool threads spin. The audit runs two sessions alternately (target,
   * reference, target…) and spinning threads of the idle one steal the cores of the busy one, so
   * spinning is off unless a benchmark turns it on to measure exactly that.
   */
  allowSpinning?: boolean;
}

export interface ModelSession {
  /** "sha256:<hex>" of the model bytes. */
  readonly digest: string;
  /** What the static inspection found (inputs, outputs, opset, metadata). */
  readonly model: OnnxModelSummary;
  /** The provider running the model. */
  readonly provider: ProviderName;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; `fetches` limits which outputs are computed. Failures are `engine_failure`. */
  run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export function modelDigest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export async function createSession(modelBytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
  return openSession(modelBytes, modelDigest(modelBytes), options);
}

async function openSession(modelBytes: Uint8Array, digest: string, options: SessionOptions): Promise<ModelSession> {
  const model = inspectOnnx(modelBytes);
  const executionProviders = Array.isArray(options.providers) ? options.providers : options.providers.executionProviders;
  const deviceId = Array.isArray(options.providers) ? undefined : options.providers.deviceId;
  const threads = options.intraOpThreads ?? availableParallelism();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: ortExecutionProviders({ executionProviders, deviceId }),
      graphOptimizationLevel: "all",
      intraOpNumThreads: threads,
      // Batches go through the graph one after another; parallelism inside an op is what counts.
      executionMode: "sequential",
      extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? "1" : "0" } } },
    });
  } catch (e) {
    throw loadError(e);
  }
  const provider = executionProviders[0] ?? "cpu";
  (options.logger ?? silentLogger).info(
    { digest, provider, intraOpThreads: threads, producer: model.producer.name, opset: model.opset },
    "encoder session created",
  );
  return {
    digest,
    model,
    provider,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, fetches) {
      try {
        return fetches === undefined ? await session.run(feeds) : await session.run(feeds, [...fetches]);
      } catch (e) {
        throw new SslmemError("engine_failure", `ONNX Runtime failed while running the model: ${ortMessage(e)}`, { digest }, { cause: e });
      }
    },
    release: () => session.release(),
  };
}

function ortMessage(e: unknown): string {
  return sanitizeOrtMessage(e instanceof Error ? e.message : String(e));
}

const UNSUPPORTED = /No Op registered|not a registered function\/op|Unsupported data type|NOT_IMPLEMENTED|is not supported|opset .*(?:under development|not supported)|Unknown model file format version/i;
const UNPARSABLE = /protobuf parsing failed|Model data pointer is null/i;

/** ORT's load-time errors are the model's fault; which code depends on what ORT disliked. */
function loadError(e: unknown): SslmemError {
  const reason = ortMessage(e);
  if (UNPARSABLE.test(reason)) {
    return new SslmemError("model_invalid", "ONNX Runtime could not parse the model; the file may be truncated or corrupt", undefined, { cause: e });
  }
  if (UNSUPPORTED.test(reason)) {
    return new SslmemError("model_unsupported", `ONNX Runtime cannot run this model: ${reason}`, undefined, { cause: e });
  }
  return new SslmemError("model_invalid", `ONNX Runtime rejected the model: ${reason}`, undefined, { cause: e });
}

const OWNED = Symbol("owned session");
type SharedSession = ModelSession & { [OWNED]: ModelSession };

/**
 * Sessions keyed by the model digest (and the options that shape a session), so an encoder
 * loaded twice — by two audits, or as both target and reference — is loaded once.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<ModelSession>>();

  get size(): number {
    return this.sessions.size;
  }

  get(modelBytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
    const digest = modelDigest(modelBytes);
    const providers = Array.isArray(options.providers) ? options.providers : options.providers.executionProviders;
    const device = Array.isArray(options.providers) ? undefined : options.providers.deviceId;
    const key = [digest, providers.join("+"), device ?? "", options.intraOpThreads ?? "auto", options.allowSpinning ? "spin" : "nospin"].join("|");
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      // Callers share the session, so the one they get cannot release it; clear() does.
      entry = openSession(modelBytes, digest, options).then((s) => ({ ...s, release: async () => {}, [OWNED]: s }));
      this.sessions.set(key, entry);
      // Refused models are not kept: the error is cheap to recompute and must not pin memory.
      entry.catch(() => this.sessions.delete(key));
    }
    return entry;
  }

  /** Releases every cached session (at shutdown, or when a worker drops its models). */
  async clear(): Promise<void> {
    const entries = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(entries.map((p) => p.then((s) => (s as SharedSession)[OWNED].release()).catch(() => undefined)));
  }
}
