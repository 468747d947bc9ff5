/**
 * The engine process: runs the EngineExecutor of execute-audit.ts on jobs sent by the service
 * (engine-session.ts: a whole audit for the embedded runner, or a plan, a shard or a merge for
 * the scaled mode's worker), one at a time, over the IPC channel of `child_process.fork`. Its result
 * store, blob lookups and logger reach the service by message (engine-worker-protocol.ts), so
 * the measuring code is the same whether it runs here or inline. Encoder sessions stay cached
 * here across audits, within the session cache's limits.
 *
 * The service ends this process with a signal to cancel, to enforce a deadline or a memory
 * ceiling, and at shutdown; nothing here needs to be interruptible. If the service goes away
 * (the IPC channel closes) the process exits.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { SslmemError } from "../core/errors.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { StoredResult } from "../store/types.ts";
import { EngineExecutor } from "./execute-audit.ts";
import {
  deserializeError,
  serializeError,
  type EngineCallName,
  type EngineCalls,
  type EngineOpResult,
  type EngineWorkerSettings,
  type EngineWorkspaceOptions,
  type FromWorker,
  type ToWorker,
} from "./engine-worker-protocol.ts";
import type { EngineStore, ExecutionContext } from "./types.ts";

const sendToService = process.send?.bind(process);
if (!sendToService) throw new Error("engine-worker.ts runs only as a child process with an IPC channel");

function send(message: FromWorker): void {
  sendToService!(message);
}

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
  if (!job) return Promise.reject(new SslmemError("internal", "no audit is running in the engine process"));
  const id = nextCall++;
  return new Promise<EngineCalls[M]["result"]>((resolve, reject) => {
    // The service answers with the result type of `method` (its handlers are typed from EngineCalls).
    pending.set(id, { resolve: (v) => resolve(v as EngineCalls[M]["result"]), reject });
    send({ type: "call", job: job.id, call: id, method, args });
  });
}

/** A real pino logger whose records go to the service's logger as JSON lines. */
const logger = pino(
  { level: "debug", base: undefined, timestamp: false },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      send({ type: "log", record: chunk.toString("utf8") });
      done();
    },
  }),
);

const store: EngineStore = {
  committedIndices: (auditId, range) => call("committedIndices", auditId, range),
  readEvents: (auditId, afterSeq, limit = 1000) => call("readEvents", auditId, afterSeq, limit),
  countResults: (auditId) => call("countResults", auditId),
  appendResults: (auditId, rows) => call("appendResults", auditId, [...rows]),
  recordLayers: (auditId, layers) => call("recordLayers", auditId, [...layers]),
  finalizeResults: (auditId, updates) => call("finalizeResults", auditId, [...updates]),
  appendUnitResults: (auditId, rows) => call("appendUnitResults", auditId, [...rows]),
  async *iterateResults(auditId, options): AsyncIterable<StoredResult> {
    const iteration = await call("iterateOpen", auditId, { layers: options?.layers === true });
    for (;;) {
      const { rows, done } = await call("iterateNext", iteration, 1000);
      yield* rows;
      if (done) return;
    }
  },
};

const blobs: BlobReader = {
  has: (digest) => call("blobHas", digest),
  pathFor: (digest) => {
    const path = current?.paths[digest];
    if (path === undefined) throw new SslmemError("internal", "the engine process was not given this input's location");
    return path;
  },
};

let executor: { key: string; value: EngineExecutor } | undefined;

function executorFor(settings: EngineWorkerSettings, workspaces: EngineWorkspaceOptions | undefined): EngineExecutor {
  const key = JSON.stringify({ settings, workspaces });
  if (executor?.key !== key) {
    const previous = executor?.value;
    void previous?.close();
    executor = {
      key,
      value: new EngineExecutor({ store, blobs, logger, settings, ...(workspaces ? { keepWorkspaces: workspaces } : {}) }),
    };
  }
  return executor.value;
}

/** Runs the job's op on the executor; the result carries its op's tag. */
async function perform(message: Extract<ToWorker, { type: "run" }>, ctx: ExecutionContext): Promise<EngineOpResult> {
  const engine = executorFor(message.settings, message.workspaces);
  const { op, audit } = message;
  switch (op.kind) {
    case "execute":
      return { kind: "execute", value: await engine.execute(audit, ctx) };
    case "plan":
      return { kind: "plan", value: await engine.planAudit(audit) };
    case "shard":
      return { kind: "shard", value: await engine.measureShard(audit, op.range, ctx) };
    case "merge":
      return { kind: "merge", value: await engine.mergeAudit(audit, ctx) };
  }
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
  send({ type: "started", job: job.id });
  try {
    const result = await perform(message, ctx);
    send({ type: "done", job: job.id, ok: true, result });
  } catch (err) {
    send({ type: "done", job: job.id, ok: false, error: serializeError(err) });
  } finally {
    if (current === job) current = undefined;
  }
}

process.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "run":
      void run(message);
      break;
    case "abort":
      if (current?.id === message.job) current.controller.abort(deserializeError(message.reason));
      break;
    case "forget":
      void executor?.value.forget(message.auditId).catch((err: unknown) => logger.warn({ err }, "could not close an ended audit's workspace"));
      break;
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

// The service is gone (it exited or closed the channel): nothing is left to report to.
process.on("disconnect", () => process.exit(0));
