/**
 * ONNX Runtime sessions for uploaded models. Every model passes the static checks of
 * onnx/inspect.ts before ORT sees it, and ORT's errors leave here as SslmemErrors.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import { inspectOnnx, type OnnxModelSummary } from "./onnx/inspect.ts";
import { intraOpWait, ortExecutionProviders, ortRunError, sanitizeOrtMessage, silentLogger, type EngineLogger, type IntraOpWait, type ProviderChoice, type ProviderName } from "./providers.ts";

export interface SessionOptions {
  /** The provider decision (providers.ts), or an explicit ORT list. */
  providers: ProviderChoice | ProviderName[];
  /** Threads of the intra-op pool; default: the number of cores. */
  intraOpThreads?: number;
  logger?: EngineLogger;
  /**
   * How idle intra-op threads wait (providers.ts, intraOpWait). Default "sleep": an encoder's own
   * session runs alternately with the other encoder's (the chained pipeline).
   */
  wait?: IntraOpWait;
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
  /**
   * Releases the native session (its weights and its arena) until the next run opens it again,
   * from the same bytes and options: an audit whose batches run in a composed graph does not need
   * its encoders' own sessions, and keeping them would hold both encoders' weights a second time.
   * No run may be in flight. A no-op for a cache's shared sessions (the cache bounds those).
   */
  suspend(): Promise<void>;
  release(): Promise<void>;
}

export function modelDigest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export async function createSession(modelBytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
  return openSession(modelBytes, modelDigest(modelBytes), options, { reopenable: true });
}

/** `reopenable`: `suspend` releases the native session and the next run opens it again (which keeps the bytes). */
async function openSession(modelBytes: Uint8Array, digest: string, options: SessionOptions, { reopenable }: { reopenable: boolean }): Promise<ModelSession> {
  const model = inspectOnnx(modelBytes);
  const executionProviders = Array.isArray(options.providers) ? options.providers : options.providers.executionProviders;
  const deviceId = Array.isArray(options.providers) ? undefined : options.providers.deviceId;
  const threads = options.intraOpThreads ?? availableParallelism();
  const ortOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ortExecutionProviders({ executionProviders, deviceId }),
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    // Batches go through the graph one after another; parallelism inside an op is what counts.
    executionMode: "sequential",
    // ORT's CPU arena (kept: without it the fixture encoder ran 23% slower, 1 516 vs 1 974
    // views/s) holds the peak of a session's runs until the session is released: the session
    // cache's limits, its trim after each audit and the engine process's idle exit bound it.
    extra: { session: { intra_op: intraOpWait(options.wait ?? "sleep") } },
  };
  const open = async (bytes: Uint8Array) => {
    try {
      return await ort.InferenceSession.create(bytes, ortOptions);
    } catch (e) {
      throw loadError(e);
    }
  };
  const first = await open(modelBytes);
  const source = reopenable ? modelBytes : undefined;
  const provider = executionProviders[0] ?? "cpu";
  (options.logger ?? silentLogger).info(
    { digest, provider, intraOpThreads: threads, producer: model.producer.name, opset: model.opset },
    "encoder session created",
  );
  // Undefined while suspended; a failed reopen leaves it suspended, to be tried again.
  let session: Promise<ort.InferenceSession> | undefined = Promise.resolve(first);
  const current = () => {
    const opening = (session ??= source ? open(source) : Promise.reject(new SslmemError("internal", `the session of model ${digest} was released`)));
    opening.catch(() => {
      if (session === opening) session = undefined;
    });
    return opening;
  };
  let released = false;
  const close = async () => {
    const closing = session;
    session = undefined;
    await (await closing?.catch(() => undefined))?.release();
  };
  return {
    digest,
    model,
    provider,
    inputNames: first.inputNames,
    outputNames: first.outputNames,
    async run(feeds, fetches) {
      if (released) throw new SslmemError("internal", `the session of model ${digest} was released`);
      const s = await current();
      try {
        return fetches === undefined ? await s.run(feeds) : await s.run(feeds, [...fetches]);
      } catch (e) {
        throw ortRunError(e, "the model", { digest });
      }
    },
    suspend: source ? close : async () => {},
    release: () => {
      released = true;
      return close();
    },
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

/** How many sessions, and how many model bytes, a cache keeps once no audit uses them. */
export interface SessionCacheLimits {
  maxSessions: number;
  maxBytes: number;
}

export const DEFAULT_SESSION_CACHE_LIMITS: SessionCacheLimits = Object.freeze({ maxSessions: 4, maxBytes: 1024 * 1024 * 1024 });

interface CacheEntry {
  /** Size of the model file: ORT's memory for a session grows with its weights. */
  bytes: number;
  lastUsed: number;
  /** Releases the session (once it opened; a refused one holds nothing). */
  release(): Promise<void>;
}

interface EncoderEntry extends CacheEntry {
  session: Promise<SharedSession>;
}

/** An ORT session of a composed graph (fused-graph.ts) and the opset it was built at. */
export interface ComposedSession {
  session: ort.InferenceSession;
  opset: number;
}

interface ComposedEntry extends CacheEntry {
  session: Promise<ComposedSession>;
}

/**
 * Sessions keyed by the model digest (and the options that shape a session), so an encoder
 * loaded twice — by two audits, or as both target and reference — is loaded once; and the
 * composed graphs of audit batches (fused-graph.ts), keyed by what they are built from, so an
 * audit of the same encoders with the same policy and settings skips building and optimizing it.
 *
 * Bounded: every distinct model a tenant uploads would otherwise stay in memory for the life of
 * the process. `trim()` (after each audit) releases the least recently used sessions of either
 * kind beyond `limits` (counted together); during an audit the cache may hold its two encoders
 * and its composed graph on top of that.
 */
export class SessionCache {
  private readonly sessions = new Map<string, EncoderEntry>();
  private readonly composed = new Map<string, ComposedEntry>();
  private clock = 0;

  constructor(private readonly limits: SessionCacheLimits = DEFAULT_SESSION_CACHE_LIMITS) {}

  get size(): number {
    return this.sessions.size + this.composed.size;
  }

  /** Model bytes of the cached sessions. */
  get bytes(): number {
    let total = 0;
    for (const e of this.entries()) total += e.entry.bytes;
    return total;
  }

  get(modelBytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
    const digest = modelDigest(modelBytes);
    const providers = Array.isArray(options.providers) ? options.providers : options.providers.executionProviders;
    const device = Array.isArray(options.providers) ? undefined : options.providers.deviceId;
    const key = [digest, providers.join("+"), device ?? "", options.intraOpThreads ?? "auto", options.wait ?? "sleep"].join("|");
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      // Callers share the session, so the one they get cannot release it; trim() and clear() do.
      const session = openSession(modelBytes, digest, options, { reopenable: false }).then((s): SharedSession => ({ ...s, release: async () => {}, [OWNED]: s }));
      entry = { session, bytes: modelBytes.byteLength, lastUsed: 0, release: () => session.then((s) => s[OWNED].release()) };
      this.sessions.set(key, entry);
      // Refused models are not kept: the error is cheap to recompute and must not pin memory.
      session.catch(() => this.sessions.delete(key));
    }
    entry.lastUsed = ++this.clock;
    return entry.session;
  }

  /**
   * The composed session cached under `key` (which must name everything the model is built from),
   * or the one `open` makes, cached. Callers share it and must not release it.
   */
  composedSession(key: string, open: () => { bytes: number; session: Promise<ComposedSession> }): { session: Promise<ComposedSession>; cached: boolean } {
    let entry = this.composed.get(key);
    const cached = entry !== undefined;
    if (entry === undefined) {
      const opened = open();
      const session = opened.session;
      entry = { session, bytes: opened.bytes, lastUsed: 0, release: () => session.then((s) => s.session.release()) };
      this.composed.set(key, entry);
      session.catch(() => this.composed.delete(key));
    }
    entry.lastUsed = ++this.clock;
    return { session: entry.session, cached };
  }

  private entries(): { map: Map<string, CacheEntry>; key: string; entry: CacheEntry }[] {
    const out: { map: Map<string, CacheEntry>; key: string; entry: CacheEntry }[] = [];
    for (const map of [this.sessions, this.composed]) for (const [key, entry] of map) out.push({ map, key, entry });
    return out;
  }

  /** Releases the least recently used sessions until the cache is within its limits. */
  async trim(): Promise<void> {
    const byAge = this.entries().sort((a, b) => a.entry.lastUsed - b.entry.lastUsed);
    let count = this.size;
    let bytes = this.bytes;
    const evicted: CacheEntry[] = [];
    for (const { map, key, entry } of byAge) {
      if (count <= this.limits.maxSessions && bytes <= this.limits.maxBytes) break;
      map.delete(key);
      evicted.push(entry);
      count--;
      bytes -= entry.bytes;
    }
    await releaseAll(evicted);
  }

  /** Releases every cached session (at shutdown, or when a worker drops its models). */
  async clear(): Promise<void> {
    const entries = this.entries().map((e) => e.entry);
    this.sessions.clear();
    this.composed.clear();
    await releaseAll(entries);
  }
}

function releaseAll(entries: CacheEntry[]): Promise<unknown> {
  return Promise.all(entries.map((e) => e.release().catch(() => undefined)));
}
