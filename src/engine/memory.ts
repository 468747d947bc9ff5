/**
 * Memory-aware batching: the number of points per batch comes from a memory budget and the
 * activation memory the audit's own graph was measured to use, not from a guess.
 *
 * The first two batches are the probe: one point, then two. Before each, the process's peak
 * resident size (VmHWM) is reset to the current size (Linux: "5" to /proc/self/clear_refs); after
 * each it is read back. The probe batches run in a session without ONNX Runtime's CPU arena
 * (batch-pipeline.ts, `memoryProbe`), so a run's activations are allocated for the run and its peak
 * is what the run needed; the audit's batches then run in the arena session, which keeps one
 * batch's worth (memory a session of an earlier audit kept counts in `base`). The probe gives
 *
 *   perPoint = peak(2 points) − peak(1 point)      base = peak(1 point) − perPoint
 *
 * and every later batch takes floor((budget − base) / perPoint) points (at least 1, at most the
 * configured batch size). The probe batches are real batches: their points are measured, not
 * wasted. Where the peak cannot be reset (not Linux), the planner falls back to the configured
 * batch size and says so.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** 1.5 GiB: a ResNet-18 audit at 224×224 on CPU fits, with room for the service around it. */
export const DEFAULT_MEMORY_BUDGET = 1.5 * 2 ** 30;

/** "1.5GiB", "1536MiB", "800M", "2G", "1073741824" → bytes (binary units; K/M/G/T ≡ KiB/MiB/GiB/TiB). */
export function parseMemorySize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return undefined;
  const scale = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase() as "" | "K" | "M" | "G" | "T"];
  const bytes = Math.floor(Number(m[1]) * scale);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

function statusField(field: "VmHWM" | "VmRSS"): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The process's peak resident size in bytes (since start or the last reset). */
export function peakRss(): number {
  return statusField("VmHWM") ?? process.resourceUsage().maxRSS * 1024;
}

/** Resets the peak resident size to the current one; false where the OS does not allow it. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return statusField("VmHWM") !== undefined;
  } catch {
    return false;
  }
}

/** What the planner measured and decided, for logs and benchmark output. */
export interface BatchPlan {
  budget: number;
  /** Peak bytes one more point costs (from the probe), or undefined when not measured. */
  perPoint?: number;
  /** Peak bytes of everything else (models, buffers, the runtime). */
  base?: number;
  /** Points per batch after the probe. */
  batchSize: number;
  /** Why the plan is not from a measurement, or why the budget cannot be met. */
  note?: string;
}

/** Measures a batch run's peak resident size: resets the peak, runs, reads it back. */
export async function measurePeak<T>(run: () => Promise<T>): Promise<{ value: T; peak: number | undefined }> {
  const canReset = resetPeakRss();
  const value = await run();
  return { value, peak: canReset ? peakRss() : undefined };
}

/** The batch size for `budget` from the peaks of a one-point and a two-point batch. */
export function planBatchSize(budget: number, maxBatch: number, peakOne: number | undefined, peakTwo: number | undefined): BatchPlan {
  if (peakOne === undefined || peakTwo === undefined) {
    return { budget, batchSize: maxBatch, note: "peak resident memory cannot be measured here; using the configured batch size" };
  }
  // Allocator noise can make the second peak no larger than the first; a point costs something.
  const perPoint = Math.max(peakTwo - peakOne, 1 << 20);
  const base = Math.max(0, peakOne - perPoint);
  const fits = Math.floor((budget - base) / perPoint);
  if (fits < 1) {
    return { budget, perPoint, base, batchSize: 1, note: `one point needs about ${mib(base + perPoint)} MiB, above the memory budget of ${mib(budget)} MiB` };
  }
  return { budget, perPoint, base, batchSize: Math.min(maxBatch, fits) };
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
