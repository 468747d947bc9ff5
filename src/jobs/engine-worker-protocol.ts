/**
 * Messages between the service (engine-session.ts, through engine-host.ts) and the engine
 * process (engine-worker.ts).
 *
 * The engine (decode, augmentation graph, both encoders, calibration) runs in a child process:
 * ONNX Runtime's node binding runs a session synchronously on the calling thread and cannot be
 * interrupted, so a cancel, a deadline, a shutdown or a memory ceiling can only end it with a
 * signal — which must not take the API with it. Everything with a side effect stays in the
 * service: the store (one writer), the blob store, the logger, progress and SSE events. The
 * engine reaches them by `call` messages answered by `reply`; only plain data crosses (the IPC
 * channel uses the structured-clone serialization).
 */
import { SslmemError, isSslmemError, type ErrorCode, ERROR_CODES } from "../core/errors.ts";
import type { LayerDescription } from "../core/layermem.ts";
import type { AuditProgress, AuditRecord, IndexRange, JsonObject, ResultFinalization, ResultRow, StoredEvent, StoredResult } from "../store/types.ts";
import type { UnitResult } from "../store/unit-result-types.ts";
import type { AuditPlan, PointRange } from "./execute-audit.ts";
import type { EngineSettings } from "./engine-settings.ts";
import type { AuditExecution } from "./types.ts";

/** What the engine process needs besides the audit to build an EngineExecutor. */
export type EngineWorkerSettings = EngineSettings;

/**
 * What one job of the engine does with its audit: the whole audit (the embedded runner), or one
 * of the scaled mode's steps (the shard worker: plan, one shard, merge).
 */
export type EngineOp = { kind: "execute" } | { kind: "plan" } | { kind: "shard"; range: PointRange } | { kind: "merge" };

/** A job's result, tagged with its op so that the service narrows it without a cast. */
export type EngineOpResult =
  | { kind: "execute"; value: AuditExecution }
  | { kind: "plan"; value: AuditPlan }
  | { kind: "shard"; value: { measured: number } }
  | { kind: "merge"; value: AuditExecution };

/** Keep an audit's inputs open between jobs (a worker running many shards of one audit). */
export interface EngineWorkspaceOptions {
  idleMs?: number;
  maxIdle?: number;
}

/** The calls the engine makes to the service, with their arguments and results. */
export interface EngineCalls {
  committedIndices: { args: [auditId: string, range?: IndexRange]; result: number[] };
  countResults: { args: [auditId: string]; result: number };
  appendResults: { args: [auditId: string, rows: ResultRow[]]; result: void };
  finalizeResults: { args: [auditId: string, updates: ResultFinalization[]]; result: void };
  /** A UnitMem audit's per-unit rows (execute-unitmem.ts). */
  appendUnitResults: { args: [auditId: string, rows: UnitResult[]]; result: void };
  /** LayerMem: the audit's measured layers, recorded before their rows. */
  recordLayers: { args: [auditId: string, layers: LayerDescription[]]; result: void };
  /** Opens an iteration over the audit's stored results (with their layer scores when `layers`); returns its id. */
  iterateOpen: { args: [auditId: string, options: { layers: boolean }]; result: number };
  /** The next rows (at most `max`) of an open iteration; `done` when exhausted (then closed). */
  iterateNext: { args: [iteration: number, max: number]; result: { rows: StoredResult[]; done: boolean } };
  blobHas: { args: [digest: string]; result: boolean };
  /** The audit's events (its `sources` event carries where referenced inputs came from). */
  readEvents: { args: [auditId: string, afterSeq: number, limit: number]; result: StoredEvent[] };
  progress: { args: [progress: AuditProgress]; result: void };
  event: { args: [type: string, data: JsonObject]; result: void };
}
export type EngineCallName = keyof EngineCalls;

/** The service's side of every call, typed from EngineCalls (one entry per call). */
export type EngineCallHandlers = {
  [M in EngineCallName]: (...args: EngineCalls[M]["args"]) => Promise<EngineCalls[M]["result"]> | EngineCalls[M]["result"];
};

/** A call of the engine: a method and its arguments, typed from EngineCalls. */
export interface EngineCallMessage<M extends EngineCallName = EngineCallName> {
  type: "call";
  job: number;
  call: number;
  method: M;
  args: EngineCalls[M]["args"];
}

/** Dispatches a call to its handler; the generic index keeps the method and its arguments paired. */
export function invokeEngineCall<M extends EngineCallName>(
  handlers: EngineCallHandlers,
  method: M,
  args: EngineCalls[M]["args"],
): Promise<EngineCalls[M]["result"]> {
  const handler: EngineCallHandlers[M] = handlers[method];
  return Promise.resolve(handler(...args));
}

export interface SerializedError {
  code?: ErrorCode;
  name: string;
  message: string;
  details?: Record<string, unknown>;
  stack?: string;
  cause?: SerializedError;
}

export type ToWorker =
  | {
      type: "run";
      job: number;
      op: EngineOp;
      audit: AuditRecord;
      settings: EngineWorkerSettings;
      workspaces?: EngineWorkspaceOptions;
      paths: Record<string, string>;
    }
  | { type: "abort"; job: number; reason: SerializedError }
  /** The audit ended: close its cached workspace. */
  | { type: "forget"; auditId: string }
  | { type: "reply"; call: number; ok: true; value: unknown }
  | { type: "reply"; call: number; ok: false; error: SerializedError };

export type FromWorker =
  | EngineCallMessage
  /** The engine began the job (the per-batch clock starts here, not at the process's spawn). */
  | { type: "started"; job: number }
  | { type: "scored"; job: number; work: { points: number; views: number } }
  /** One JSON log record of the engine's pino logger. */
  | { type: "log"; record: string }
  | { type: "done"; job: number; ok: true; result: EngineOpResult }
  | { type: "done"; job: number; ok: false; error: SerializedError };

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (isSslmemError(err)) {
    return {
      code: err.code,
      name: err.name,
      message: err.message,
      ...(err.details ? { details: structuredCloneable(err.details) } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
      ...(err.cause !== undefined && depth < 3 ? { cause: serializeError(err.cause, depth + 1) } : {}),
    };
  }
  if (err instanceof Error) {
    return {
      name: err.name,
      message: err.message,
      ...(err.stack ? { stack: err.stack } : {}),
      ...(err.cause !== undefined && depth < 3 ? { cause: serializeError(err.cause, depth + 1) } : {}),
    };
  }
  return { name: "Error", message: String(err) };
}

/** The error again, as an SslmemError when it was one (same code, message and details). */
export function deserializeError(e: SerializedError): Error {
  const cause = e.cause ? deserializeError(e.cause) : undefined;
  const err =
    e.code !== undefined && e.code in ERROR_CODES
      ? new SslmemError(e.code, e.message, e.details, cause ? { cause } : undefined)
      : new Error(e.message, cause ? { cause } : undefined);
  if (e.code === undefined) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

function structuredCloneable(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(details);
  } catch {
    const parsed: unknown = JSON.parse(JSON.stringify(details));
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? { ...parsed } : {};
  }
}
