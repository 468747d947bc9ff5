/**
 * Messages between the main thread (worker-executor.ts) and the engine worker (engine-worker.ts).
 *
 * The worker runs the engine (decode, augmentation graph, both encoders, calibration): ONNX
 * Runtime's node binding runs a session synchronously on the calling thread, so on the main
 * thread one batch of a large encoder held the event loop for seconds. Everything with a side
 * effect stays on the main thread: the store (one SQLite connection, one writer), the blob store,
 * the logger, progress and SSE events. The worker reaches them by `call` messages answered by
 * `reply`; only plain data crosses (structured clone).
 */
import { SslmemError, isSslmemError, type ErrorCode, ERROR_CODES } from "../core/errors.ts";
import type { AuditProgress, AuditRecord, JsonObject, ResultFinalization, ResultRow, StoredEvent, StoredResult } from "../store/types.ts";
import type { EngineSettings } from "./engine-settings.ts";
import type { AuditExecution } from "./types.ts";

/** What the worker needs besides the audit to build an EngineExecutor. */
export type EngineWorkerSettings = EngineSettings;

/** The calls the worker makes to the main thread, with their arguments and results. */
export interface EngineCalls {
  committedIndices: { args: [auditId: string]; result: number[] };
  appendResults: { args: [auditId: string, rows: ResultRow[]]; result: void };
  finalizeResults: { args: [auditId: string, updates: ResultFinalization[]]; result: void };
  /** Opens an iteration over the audit's stored results; returns its id. */
  iterateOpen: { args: [auditId: string]; result: number };
  /** The next rows (at most `max`) of an open iteration; `done` when exhausted (then closed). */
  iterateNext: { args: [iteration: number, max: number]; result: { rows: StoredResult[]; done: boolean } };
  blobHas: { args: [digest: string]; result: boolean };
  /** The audit's events (its `sources` event carries where referenced inputs came from). */
  readEvents: { args: [auditId: string, afterSeq: number, limit: number]; result: StoredEvent[] };
  progress: { args: [progress: AuditProgress]; result: void };
  event: { args: [type: string, data: JsonObject]; result: void };
}
export type EngineCallName = keyof EngineCalls;

export interface SerializedError {
  code?: ErrorCode;
  name: string;
  message: string;
  details?: Record<string, unknown>;
  stack?: string;
  cause?: SerializedError;
}

export type ToWorker =
  | { type: "run"; job: number; audit: AuditRecord; settings: EngineWorkerSettings; paths: Record<string, string> }
  | { type: "abort"; job: number; reason: SerializedError }
  /** End the worker at its next safe point (never inside an ONNX Runtime call). */
  | { type: "shutdown" }
  | { type: "reply"; call: number; ok: true; value: unknown }
  | { type: "reply"; call: number; ok: false; error: SerializedError };

export type FromWorker =
  | { type: "call"; job: number; call: number; method: EngineCallName; args: unknown[] }
  | { type: "scored"; job: number; work: { points: number; views: number } }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; obj: Record<string, unknown>; msg?: string }
  | { type: "done"; job: number; ok: true; value: AuditExecution }
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
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  }
}
