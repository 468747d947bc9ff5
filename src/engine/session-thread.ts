/**
 * An ONNX Runtime session on a worker thread of its own (session-thread-worker.ts), so that the
 * thread that prepares batches is free while one runs (issue 9: decoding, view sampling and
 * packing of batch i+1 while batch i is on the device). onnxruntime-node runs a session's `run` as
 * one synchronous native call on the calling thread — on a GPU, the whole time the batch is on the
 * device — so on the main thread nothing else of the audit (nor the engine process's messages) could
 * happen meanwhile.
 *
 * A run takes its inputs' arrays (they are transferred, not copied) and gives them back with the
 * outputs, for the caller's pool (array-pool.ts). Runs are answered in order. The worker keeps the
 * process alive only while a run is outstanding.
 */
import { Worker } from "node:worker_threads";
import type * as ort from "onnxruntime-node";
import { SslmemError } from "../core/errors.ts";
import type { PackedInput } from "./augment-graph.ts";

export type ThreadTensor = PackedInput;

/** What the worker is started with. */
export interface SessionThreadData {
  model: Uint8Array;
  options: ort.InferenceSession.SessionOptions;
}

export type ToSessionThread = { kind: "run"; id: number; inputs: Record<string, ThreadTensor>; fetches: string[] } | { kind: "release" };

export type FromSessionThread =
  | { kind: "ready" }
  | { kind: "load-failed"; message: string }
  | { kind: "result"; id: number; outputs: Record<string, Float32Array>; inputs: Record<string, ThreadTensor> }
  | { kind: "failed"; id: number; message: string; inputs: Record<string, ThreadTensor> };

export interface ThreadRun {
  outputs: Record<string, Float32Array>;
  /** The inputs' arrays, back from the worker. */
  inputs: Record<string, ThreadTensor>;
}

/** A run's failure inside ONNX Runtime; its inputs' arrays came back with it. */
export class SessionRunError extends Error {
  constructor(
    message: string,
    readonly inputs: Record<string, ThreadTensor>,
  ) {
    super(message);
  }
}

// Compiled (dist/), the worker runs session-thread-worker.js as it is. From the TypeScript sources
// (tests, under tsx), the boot file registers tsx in the worker first: a worker does not inherit
// the loader hooks that tsx's register() installed in an engine process.
const ENTRY = import.meta.url.endsWith(".ts") ? new URL("./session-thread-boot.js", import.meta.url) : new URL("./session-thread-worker.js", import.meta.url);

export class ThreadSession {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: ThreadRun) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #gone: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("message", (m: FromSessionThread) => this.#answer(m));
    worker.on("error", (e) => this.#fail(new SslmemError("internal", `the session's worker thread failed: ${e.message}`)));
    worker.on("exit", () => this.#fail(new SslmemError("internal", "the session's worker thread ended")));
    worker.unref();
  }

  /** Starts the worker and creates the session there; rejects with ONNX Runtime's load error. */
  static open(model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ThreadSession> {
    const data: SessionThreadData = { model, options };
    const worker = new Worker(ENTRY, { workerData: data });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      const onExit = () => reject(new Error("the session's worker thread ended while loading the model"));
      worker.once("error", onError);
      worker.once("exit", onExit);
      worker.once("message", (m: FromSessionThread) => {
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (m.kind === "ready") resolve(new ThreadSession(worker));
        else {
          reject(new Error(m.kind === "load-failed" ? m.message : `unexpected first message ${m.kind}`));
          void worker.terminate();
        }
      });
    });
  }

  /** Runs the session on `inputs` (their arrays move to the worker until the answer). */
  run(inputs: Record<string, ThreadTensor>, fetches: string[]): Promise<ThreadRun> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    const message: ToSessionThread = { kind: "run", id, inputs, fetches };
    const transfer = [...new Set(Object.values(inputs).map((t) => t.data.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage(message, transfer);
    });
  }

  /** Releases the session and ends the worker. */
  async release(): Promise<void> {
    if (this.#gone) return;
    const exited = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
    const message: ToSessionThread = { kind: "release" };
    this.#worker.ref();
    this.#worker.postMessage(message);
    await exited;
  }

  #answer(m: FromSessionThread): void {
    if (m.kind !== "result" && m.kind !== "failed") return;
    const pending = this.#pending.get(m.id);
    if (!pending) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (m.kind === "result") pending.resolve({ outputs: m.outputs, inputs: m.inputs });
    else pending.reject(new SessionRunError(m.message, m.inputs));
  }

  #fail(error: Error): void {
    this.#gone ??= error;
    for (const { reject } of this.#pending.values()) reject(this.#gone);
    this.#pending.clear();
  }
}
