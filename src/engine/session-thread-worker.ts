/**
 * The worker thread of one ONNX Runtime session (session-thread.ts): creates the session from the
 * model it is given, then runs it for every message, and hands the inputs' arrays back with the
 * outputs (so the main thread's pool can pack the next batch into them). Nothing else lives here.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { FromSessionThread, SessionThreadData, ToSessionThread, ThreadTensor } from "./session-thread.ts";

const port = parentPort;
if (!port) throw new Error("session-thread-worker.ts runs as a worker thread");
const data: SessionThreadData = workerData;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function tensorOf(t: ThreadTensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

let session: ort.InferenceSession;
try {
  session = await ort.InferenceSession.create(data.model, data.options);
} catch (e) {
  const failed: FromSessionThread = { kind: "load-failed", message: message(e) };
  port.postMessage(failed);
  process.exit(0);
}
const ready: FromSessionThread = { kind: "ready" };
port.postMessage(ready);

port.on("message", async (m: ToSessionThread) => {
  if (m.kind === "release") {
    await session.release();
    port.close();
    return;
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(m.inputs)) feeds[name] = tensorOf(t);
  const back = Object.values(m.inputs).map((t) => t.data.buffer);
  let reply: FromSessionThread;
  let transfer: ArrayBuffer[] = [];
  try {
    const result = await session.run(feeds, m.fetches);
    const outputs: Record<string, Float32Array> = {};
    for (const name of m.fetches) {
      const value = result[name].data;
      if (!(value instanceof Float32Array)) throw new Error(`output ${name} is not float32`);
      outputs[name] = value;
    }
    reply = { kind: "result", id: m.id, outputs, inputs: m.inputs };
    transfer = [...new Set([...back, ...Object.values(outputs).map((o) => o.buffer)])].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  } catch (e) {
    reply = { kind: "failed", id: m.id, message: message(e), inputs: m.inputs };
    transfer = back.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  }
  port.postMessage(reply, transfer);
});
