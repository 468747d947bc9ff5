/**
 * The staging thread (staging.ts): samples each batch's views and packs its inputs into arrays of
 * its own pool, hands them over (transferred) and takes them back after the batch has run.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SslmemError } from "../core/errors.ts";
import type { PackedInput } from "./augment-graph.ts";
import { packBatch } from "./batch-packing.ts";
import { ArrayPool } from "./array-pool.ts";
import { sampleBatch, transferList, type FromStaging, type StagingInit, type ToStaging } from "./staging.ts";

const port = parentPort;
if (!port) throw new Error("staging-worker.ts runs as a worker thread (staging.ts)");
const init: StagingInit = workerData;
const arrays = new ArrayPool();

port.on("message", (m: ToStaging) => {
  if (m.kind === "give") {
    arrays.give(m.arrays);
    return;
  }
  let reply: FromStaging;
  let inputs: Record<string, PackedInput> | undefined;
  try {
    const batch = sampleBatch(init.sampling, m.points);
    inputs = packBatch(init.packing, batch, arrays);
    reply = { kind: "staged", id: m.id, views: batch.map((p) => [...p.views]), inputs };
  } catch (e) {
    reply = e instanceof SslmemError ? { kind: "failed", id: m.id, code: e.code, message: e.message } : { kind: "failed", id: m.id, code: "internal", message: "staging a batch failed" };
  }
  port.postMessage(reply, inputs ? transferList(Object.values(inputs).map((input) => input.data)) : []);
});
