/**
 * Which ONNX Runtime execution provider runs the encoders (and the augmentation graph).
 *
 * Decided once per process and preference: each candidate is probed by creating a one-node session
 * on it alone. A probe is needed because ORT does not fall back by itself: a session created with
 * ["cuda", "cpu"] fails outright when the CUDA provider library is missing, as it is in the stock
 * onnxruntime-node package (which bundles cpu and webgpu only).
 */
import * as ort from "onnxruntime-node";
import { z } from "zod";
import { GraphBuilder } from "./onnx/builder.ts";
import { SslmemError } from "../core/errors.ts";

// ORT prints its own errors to stderr (e.g. a multi-line "Failed to load library" for every
// provider probed that is absent). Failures reach us as exceptions, which are logged properly,
// so ORT's own log is limited to fatal messages. Set before the first session creates ORT's env.
ort.env.logLevel = "fatal";

export const PROVIDER_NAMES = ["cuda", "tensorrt", "webgpu", "dml", "coreml", "cpu"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** `auto` = cuda, then cpu. An explicit list is tried in order; the first that works is used. */
export const ProviderPreferenceSchema = z.union([z.literal("auto"), z.array(z.enum(PROVIDER_NAMES)).min(1).max(PROVIDER_NAMES.length)]);
export type ProviderPreference = z.infer<typeof ProviderPreferenceSchema>;

const AUTO: ProviderName[] = ["cuda", "cpu"];

/** The subset of a pino logger the engine uses; a pino logger satisfies it. */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: EngineLogger = { info() {}, warn() {} };

export interface ProviderChoice {
  requested: ProviderName[];
  /** The provider that runs the work: what a report should name. */
  provider: ProviderName;
  /** The list to pass to ORT: the chosen provider, then cpu for the ops it lacks. */
  executionProviders: ProviderName[];
  /** Providers tried before the chosen one, and why each was not used. */
  skipped: { provider: ProviderName; reason: string }[];
  /** GPU ordinal for the providers that take one (cuda, tensorrt, dml); default 0. */
  deviceId?: number;
}

/** Providers that address one of several devices by an ordinal. */
const DEVICE_PROVIDERS: ReadonlySet<ProviderName> = new Set(["cuda", "tensorrt", "dml"]);

/** ORT's executionProviders for a choice: names, with the device id where a provider takes one. */
export function ortExecutionProviders(choice: Pick<ProviderChoice, "executionProviders" | "deviceId">): ort.InferenceSession.ExecutionProviderConfig[] {
  return choice.executionProviders.map((name) =>
    choice.deviceId !== undefined && DEVICE_PROVIDERS.has(name) ? ({ name, deviceId: choice.deviceId } as ort.InferenceSession.ExecutionProviderConfig) : name,
  );
}

/**
 * How the idle threads of ORT's intra-op pool wait for the next parallel op:
 * - "brief-spin": spin for at most BRIEF_SPIN_US, then sleep. For a session that runs alone, as
 *   the composed graph does: an augmentation graph is many short ops (SimCLR's: 106 nodes, ~0.1 ms
 *   each at 32×32), and a sleeping pool thread woke too late to share them, so they ran on about
 *   one core. The fixture's composed graph took 53.4–54.3 ms a batch spinning briefly against
 *   55.4–56.2 ms sleeping; the encoders alone took 49.4–49.9 ms either way (2-core machine,
 *   interleaved runs).
 *   An idle engine burns ~1 ms of CPU after each run (bench/spinning.bench.ts: 22.5 ms over 20
 *   idle periods of 30 ms, against 6.4 ms sleeping).
 * - "sleep": never spin. For sessions run alternately (the chained pipeline's encoders and
 *   augmentation): a spinning idle pool takes cores from the busy one — two alternating sessions
 *   ran at 7 874 views/s spinning briefly against 8 430 sleeping (the same benchmark).
 * - "spin": ORT's default, spinning for milliseconds (530 ms of CPU over the same 20 idle
 *   periods); two alternating sessions ran at 3 214 views/s. Only that benchmark uses it.
 */
export type IntraOpWait = "brief-spin" | "sleep" | "spin";

/** Longest spin of an idle intra-op thread under "brief-spin", in microseconds. */
export const BRIEF_SPIN_US = 200;

/** The `extra.session.intra_op` entries of ORT's session options for `wait`. */
export function intraOpWait(wait: IntraOpWait): { allow_spinning: "0" | "1"; spin_duration_us?: string } {
  if (wait === "sleep") return { allow_spinning: "0" };
  if (wait === "spin") return { allow_spinning: "1" };
  return { allow_spinning: "1", spin_duration_us: String(BRIEF_SPIN_US) };
}

let probeModel: Uint8Array | undefined;

/** Creates (and releases) a one-Relu session on `provider` alone; rejects when ORT cannot. */
export async function probeProvider(provider: ProviderName, deviceId?: number): Promise<void> {
  if (probeModel === undefined) {
    const g = new GraphBuilder("provider_probe");
    const x = g.input("x", "float", [1]);
    g.output(g.op1("Relu", [x], {}, "y"), "float", [1]);
    probeModel = g.toModelBytes({ opset: 17 });
  }
  const session = await ort.InferenceSession.create(probeModel, { executionProviders: ortExecutionProviders({ executionProviders: [provider], deviceId }) });
  await session.release();
}

/** First line of an ORT message with file-system paths removed (they say nothing to a user). */
const OUT_OF_MEMORY = /Failed to allocate memory|bad_alloc|out of memory/i;

/**
 * A failed session run as the audit's error: a model that asked for more memory than there is is
 * its owner's to fix (resource_exhausted, 422), anything else is engine_failure. The message is
 * sanitized (no C++ signatures or source paths).
 */
export function ortRunError(e: unknown, what: string, details?: Record<string, unknown>): SslmemError {
  const reason = sanitizeOrtMessage(e instanceof Error ? e.message : String(e));
  if (OUT_OF_MEMORY.test(reason)) return new SslmemError("resource_exhausted", `the model needed more memory than the engine has: ${reason}`, details, { cause: e });
  return new SslmemError("engine_failure", `ONNX Runtime failed while running ${what}: ${reason}`, details, { cause: e });
}

export function sanitizeOrtMessage(message: string): string {
  const first = message.split("\n").find((l) => l.trim() !== "") ?? "unknown error";
  return first
    .replace(/(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}[\\/]?(?::\d+)?/g, "<path>")
    // C++ signatures (`onnxruntime::common::Status onnxruntime::Foo::Bar(…) const`) and source
    // locations (`loop.cc:466`) say nothing a user can act on.
    .replace(/(?:[\w:<>*&,\s]*\b\w+::)+~?\w+\([^()]*\)(?:\s*const)?/g, "")
    .replace(/\b[\w-]+\.(?:cc|cpp|cxx|h|hpp|cu)(?::\d+)?\s*/g, "")
    .replace(/\u001b\[[0-9;]*m/g, "")
    .trim()
    .slice(0, 300);
}

export class ProviderSelector {
  private readonly decisions = new Map<string, Promise<ProviderChoice>>();

  /** The decision for `preference`, made on first call and reused afterwards. */
  choose(preference: ProviderPreference, logger: EngineLogger = silentLogger, deviceId?: number): Promise<ProviderChoice> {
    const requested = preference === "auto" ? AUTO : dedupe(preference);
    const key = `${requested.join(",")}@${deviceId ?? "default"}`;
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      decision = this.decide(requested, logger, deviceId);
      this.decisions.set(key, decision);
      // A failed decision is not cached: the next audit may run after the environment is fixed.
      decision.catch(() => this.decisions.delete(key));
    }
    return decision;
  }

  private async decide(requested: ProviderName[], logger: EngineLogger, deviceId?: number): Promise<ProviderChoice> {
    const available = new Set(ort.listSupportedBackends().map((b) => b.name));
    const skipped: ProviderChoice["skipped"] = [];
    for (const provider of requested) {
      if (!available.has(provider)) {
        skipped.push({ provider, reason: "not part of this onnxruntime-node build" });
        continue;
      }
      try {
        await probeProvider(provider, deviceId);
      } catch (e) {
        skipped.push({ provider, reason: sanitizeOrtMessage(e instanceof Error ? e.message : String(e)) });
        continue;
      }
      const choice: ProviderChoice = {
        requested,
        provider,
        executionProviders: provider === "cpu" ? ["cpu"] : [provider, "cpu"],
        skipped,
        ...(deviceId !== undefined && DEVICE_PROVIDERS.has(provider) ? { deviceId } : {}),
      };
      for (const s of skipped) {
        logger.warn({ provider: s.provider, reason: s.reason, fallback: provider }, `execution provider ${s.provider} unavailable; using ${provider}`);
      }
      logger.info({ provider, requested, ...(choice.deviceId !== undefined ? { deviceId: choice.deviceId } : {}) }, `ONNX Runtime execution provider: ${provider}`);
      return choice;
    }
    throw new SslmemError(
      "engine_failure",
      `none of the requested execution providers could be started (${skipped.map((s) => `${s.provider}: ${s.reason}`).join("; ")})`,
      { skipped },
    );
  }
}

function dedupe(list: readonly ProviderName[]): ProviderName[] {
  return [...new Set(list)];
}

/** The process-wide selector: the provider decision is made once per process. */
export const processProviders = new ProviderSelector();

export function chooseProviders(preference: ProviderPreference, options: { logger?: EngineLogger; deviceId?: number } = {}): Promise<ProviderChoice> {
  return processProviders.choose(preference, options.logger, options.deviceId);
}
