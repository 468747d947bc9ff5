/**
 * Staging a batch — sampling its views' parameters and packing them with the source pixels into
 * the composed graph's inputs — on a thread of its own, so that it runs while the batch before it
 * is on the device.
 *
 * onnxruntime-node runs a session on the thread that calls `run` and holds it until the run ends
 * (its `run` is a setImmediate around a synchronous call): inline, whatever of the next batch's
 * staging is JavaScript waits for the run to end, and staging and run take turns. On the CPU
 * provider that costs nothing — the run keeps every core busy, and the fixture's audit loop ran at
 * 0.86 of its encoders' rate staged on this thread against 0.87–0.88 inline on the 2-core machine
 * (bench/pipeline-profile.bench.ts AUDIT=10) — so the CPU provider stages inline. On a GPU the run
 * leaves the host's cores idle: on an H200 with ONNX Runtime's webgpu provider the fixture's batch
 * (8 points, 256 views) spent 8.1 ms in its composed run and 1.8 ms in sampling and packing, the
 * 64×64 convnet's 19.1 and 11.9 ms. There, this thread takes the staging; the audit loop decodes
 * the next batch's images before the run starts and posts them here then (measure.ts) — posted
 * after the decoding that the run held up, nothing overlapped (README, "On a GPU"). Measured so on
 * the H200 (`npm run bench`, webgpu, 8 points a batch, views in the graph): audit ÷ limit 0.58 on
 * this thread against 0.47 inline, for the fixture and the convnet alike; with small views made on
 * the host — here, on this thread (batch-pipeline.ts, defaultAugmentSite) — 1.11 and 1.03.
 *
 * One writer per array: the thread owns the arrays it packs into (its own ArrayPool) until it
 * hands them over with the staged batch; the pipeline's run then owns them, and gives them back
 * after the run (`giveBack`, the arrays transferred, not copied).
 */
import { Worker } from "node:worker_threads";
import type { AuditConfig } from "../core/audit-config.ts";
import { ERROR_CODES, SslmemError, type ErrorCode } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { AugmentationPolicy } from "../core/policy.ts";
import { sampleViewsForPoint, type Size, type ViewParams } from "../core/view-params.ts";
import type { PackedInput } from "./augment-graph.ts";
import type { BatchPacking } from "./batch-packing.ts";
import type { PointViews } from "./batch-pipeline.ts";

/** What sampling a point's views reads: the audit's settings and the encoders' input size. */
export interface SamplingSettings {
  policy: AugmentationPolicy;
  pairing: AuditConfig["pairing"];
  seed: number;
  /** K: view pairs (pairing views) or views (pairing original) per point. */
  views: number;
  out: Size;
}

/** A point to stage: its id keys its views' random numbers (view-params.ts). */
export interface StagingPoint {
  id: string;
  image: RgbImage;
}

/** The views of each point, sampled as the audit samples them: the one implementation of it. */
export function sampleBatch(s: SamplingSettings, points: readonly StagingPoint[]): PointViews[] {
  return points.map(({ id, image }) => ({
    image,
    views: sampleViewsForPoint(s.policy, s.pairing, s.seed, id, s.views, { height: image.height, width: image.width }, s.out),
  }));
}

/** The thread's settings (its workerData): sampling, and the options the pipeline packs with. */
export interface StagingInit {
  sampling: SamplingSettings;
  packing: BatchPacking;
}

export type PackedArray = PackedInput["data"];

/** Messages to the staging thread. */
export type ToStaging =
  | { kind: "stage"; id: number; points: StagingPoint[] }
  /** Arrays of a batch that has run, for the thread's pool. */
  | { kind: "give"; arrays: PackedArray[] };

/** Messages from the staging thread. */
export type FromStaging =
  | { kind: "staged"; id: number; views: ViewParams[][]; inputs: Record<string, PackedInput> }
  | { kind: "failed"; id: number; code: ErrorCode; message: string };

/** A batch staged off the main thread: its points with their views, and its packed inputs. */
export interface StagedInputs {
  batch: PointViews[];
  inputs: Record<string, PackedInput>;
}

/** Buffers of arrays to transfer (each once; empty arrays have nothing to move). */
export function transferList(arrays: Iterable<PackedArray>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.buffer.byteLength > 0) buffers.add(a.buffer);
  return [...buffers];
}

// Compiled (dist/), the thread runs staging-worker.js as it is; from the TypeScript sources (tests,
// under tsx), staging-worker-boot.js registers tsx in the thread first (as engine-host.ts does).
const ENTRY = import.meta.url.endsWith(".ts") ? new URL("./staging-worker-boot.js", import.meta.url) : new URL("./staging-worker.js", import.meta.url);

export class StagingThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { points: readonly StagingPoint[]; resolve: (s: StagedInputs) => void; reject: (e: Error) => void }>();
  #next = 0;
  /** Why the thread stopped, once it has: every later request is refused with it. */
  #failed: SslmemError | undefined;

  constructor(init: StagingInit) {
    // None of the process's flags (`--input-type`, `--test`, …): the thread loads one file.
    this.#worker = new Worker(ENTRY, { workerData: init, execArgv: [], stdout: false, stderr: false });
    // Idle, the thread keeps nothing alive; a request in flight does (#ref).
    this.#worker.unref();
    this.#worker.on("message", (m: FromStaging) => this.#settle(m));
    this.#worker.on("error", (e) => this.#stop(new SslmemError("engine_failure", "the staging thread failed", undefined, { cause: e })));
    this.#worker.on("exit", () => this.#stop(new SslmemError("engine_failure", "the staging thread stopped")));
  }

  /** Samples the points' views and packs the batch on the thread. */
  stage(points: readonly StagingPoint[]): Promise<StagedInputs> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    // The thread gets copies of the pixels: an image may be a view into a larger buffer that is
    // not ours to move (a decoded PNG in Node's buffer pool, a row of a .npy file).
    const copies = points.map(({ id: pointId, image }) => ({ id: pointId, image: { width: image.width, height: image.height, data: image.data.slice() } }));
    const message: ToStaging = { kind: "stage", id, points: copies };
    return new Promise<StagedInputs>((resolve, reject) => {
      this.#pending.set(id, { points, resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage(message, transferList(copies.map((p) => p.image.data)));
    });
  }

  /** A staged batch's arrays, after its run: the thread packs later batches into them. */
  giveBack(arrays: PackedArray[]): void {
    if (this.#failed) return;
    const message: ToStaging = { kind: "give", arrays };
    this.#worker.postMessage(message, transferList(arrays));
  }

  async close(): Promise<void> {
    this.#stop(new SslmemError("internal", "the staging thread was closed"));
    await this.#worker.terminate();
  }

  #settle(m: FromStaging): void {
    const request = this.#pending.get(m.id);
    if (!request) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (m.kind === "failed") {
      request.reject(new SslmemError(m.code in ERROR_CODES ? m.code : "internal", m.message));
      return;
    }
    if (m.views.length !== request.points.length) {
      request.reject(new SslmemError("internal", "the staging thread returned another batch's views"));
      return;
    }
    request.resolve({ batch: request.points.map(({ image }, i) => ({ image, views: m.views[i] })), inputs: m.inputs });
  }

  #stop(reason: SslmemError): void {
    this.#failed ??= reason;
    for (const { reject } of this.#pending.values()) reject(this.#failed);
    this.#pending.clear();
  }
}
