/**
 * The engine worker thread: runs the EngineExecutor of execute-audit.ts on audits sent by the
 * main thread (worker-executor.ts), one at a time. The executor's store, blob store, logger and
 * execution context are proxies that message the main thread (engine-worker-protocol.ts), so the
 * measuring code is the same whether it runs here or inline. Encoder sessions stay cached in
 * this thread across audits.
 */
import { parentPort } from "node:worker_threads";
import { SslmemError } from "../core/errors.ts";
import type { EngineLogger } from "../engine/providers.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { StoredResult } from "../store/types.ts";
import { EngineExecutor } from "./execute-audit.ts";
import {
  deserializeError,
  serializeError,
  type EngineCallName,
  type EngineCalls,
  type EngineWorkerSettings,
  type FromWorker,
  type ToWorker,
} from "./engine-worker-protocol.ts";
import type { EngineStore, ExecutionContext } from "./types.ts";

const port = parentPort;
if (!port) throw new Error("engine-worker.ts runs only as a worker thread");

const send = (message: FromWorker) => port.postMessage(message);

let nextCall = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

interface Job {
  id: number;
  paths: Record<string, string>;
  controller: AbortController;
}
let current: Job | undefined;

function call<M extends EngineCallName>(method: M, ...args: EngineCalls[M]["args"]): Promise<EngineCalls[M]["result"]> {
  const job = current;
  if (!job) return Promise.reject(new SslmemError("internal", "no audit is running in the engine worker"));
  const id = nextCall++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    send({ type: "call", job: job.id, call: id, method, args });
  });
}

/** Log records go to the main thread's logger; errors travel as plain objects. */
function forwardLog(level: "debug" | "info" | "warn" | "error") {
  return (obj: unknown, msg?: string) => {
    const fields: Record<string, unknown> = {};
    if (typeof obj === "string") msg = obj;
    else if (obj && typeof obj === "object") {
      for (const [k, v] of Object.entries(obj)) fields[k] = v instanceof Error ? serializeError(v) : v;
    }
    try {
      send({ type: "log", level, obj: fields, ...(msg !== undefined ? { msg } : {}) });
    } catch {
      send({ type: "log", level, obj: {}, msg: `${msg ?? ""} (fields not transferable)` });
    }
  };
}

const logger: EngineLogger = { info: forwardLog("info"), warn: forwardLog("warn") };

async function* storedResults(auditId: string): AsyncIterable<StoredResult> {
  const iteration = await call("iterateOpen", auditId);
  for (;;) {
    const { rows, done } = await call("iterateNext", iteration, 1000);
    yield* rows;
    if (done) return;
  }
}

const store: EngineStore = {
  committedIndices: (auditId: string) => call("committedIndices", auditId),
  readEvents: (auditId: string, afterSeq: number, limit = 1000) => call("readEvents", auditId, afterSeq, limit),
  appendResults: (auditId: string, rows: EngineCalls["appendResults"]["args"][1]) => call("appendResults", auditId, [...rows]),
  finalizeResults: (auditId: string, updates: EngineCalls["finalizeResults"]["args"][1]) => call("finalizeResults", auditId, [...updates]),
  iterateResults: (auditId: string) => storedResults(auditId),
  // Only a shard's progress counts rows, and shards do not run on this thread: counting through
  // the iteration keeps the protocol to what execute() needs.
  async countResults(auditId: string): Promise<number> {
    let n = 0;
    for await (const _row of storedResults(auditId)) n += 1;
    return n;
  },
};

const blobs: BlobReader = {
  has: (digest: string) => call("blobHas", digest),
  pathFor: (digest: string) => {
    const path = current?.paths[digest];
    if (path === undefined) throw new SslmemError("internal", "the engine worker was not given this input's location");
    return path;
  },
};

let executor: { key: string; value: EngineExecutor } | undefined;

function executorFor(settings: EngineWorkerSettings): EngineExecutor {
  const key = JSON.stringify(settings);
  if (executor?.key !== key) {
    executor = {
      key,
      value: new EngineExecutor({ store, blobs, logger, settings }),
    };
  }
  return executor.value;
}

async function run(message: Extract<ToWorker, { type: "run" }>): Promise<void> {
  const job: Job = { id: message.job, paths: message.paths, controller: new AbortController() };
  current = job;
  const ctx: ExecutionContext = {
    signal: job.controller.signal,
    progress: (p) => call("progress", p),
    event: (type, data) => call("event", type, data),
    scored: (work) => send({ type: "scored", job: job.id, work }),
  };
  try {
    const value = await executorFor(message.settings).execute(message.audit, ctx);
    send({ type: "done", job: job.id, ok: true, value });
  } catch (err) {
    send({ type: "done", job: job.id, ok: false, error: serializeError(err) });
  } finally {
    if (current === job) current = undefined;
  }
}

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "run":
      void run(message);
      break;
    case "abort":
      if (current?.id === message.job) current.controller.abort(deserializeError(message.reason));
      break;
    case "shutdown":
      // Handled between two ORT calls, never during one: ending the thread here is safe, while
      // Worker.terminate() during a native session run aborts the whole process (an uncaught
      // Napi::Error in the binding).
      current?.controller.abort(new SslmemError("unavailable", "the engine worker is shutting down"));
      process.exit(0);
    case "reply": {
      const waiter = pending.get(message.call);
      pending.delete(message.call);
      if (!waiter) break;
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(deserializeError(message.error));
      break;
    }
  }
});
