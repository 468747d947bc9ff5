/**
 * Memory-aware batching: the number of points per batch comes from a memory budget and the
 * activation memory the audit's own graph was measured to use, not from a guess.
 *
 * The first two batches are the probe: one point, then two. Before each, the process's peak
 * resident size (VmHWM) is reset to the current size (Linux: "5" to /proc/self/clear_refs) and the
 * current size read; after each the peak is read back. The probe batches run in a session without
 * ONNX Runtime's CPU arena (batch-pipeline.ts, `memoryProbe`), so a run's activations are allocated
 * for the run and its peak is what the run needed; that session is the only composed one while the
 * probe runs (memory a session of an earlier audit kept counts in `base`). The audit's batches then
 * run in the arena session, made after the probe, which keeps its batches' memory and grows by
 * doubling regions: planBatchSize allows for that (arenaBound). The probe batches are real
 * batches — of the audit, or of the health sample when that runs first (MemoryPlanner) — their
 * points are measured, not wasted. Where the peak cannot be reset (not Linux), the planner falls
 * back to the configured batch size and says so.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** 1.5 GiB: a ResNet-18 audit at 224×224 on CPU fits, with room for the service around it. */
export const DEFAULT_MEMORY_BUDGET = 1.5 * 2 ** 30;

const MIB = 2 ** 20;

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
  /** Bytes one more point's activations cost (from the probe), or undefined when not measured. */
  perPoint?: number;
  /** Resident bytes before the probe's batches (models, buffers, the runtime). */
  base?: number;
  /** Bytes the first point's run costs: its activations and the run's own (at least `perPoint`). */
  firstPoint?: number;
  /** Bytes a point keeps outside the session for two batches at once (MemoryPlanner.heldPerPoint). */
  held?: number;
  /** Points per batch after the probe. */
  batchSize: number;
  /** Why the plan is not from a measurement, or why the budget cannot be met. */
  note?: string;
}

/** A probe batch's run: resident bytes before it, and its peak (undefined where not measurable). */
export interface ProbeRun {
  before: number;
  peak: number | undefined;
}

/** A probe batch's run whose peak was measured. */
export type MeasuredRun = ProbeRun & { peak: number };

/**
 * The batch sizes of one prepared audit: while there is no plan, a one-point and a two-point probe
 * batch (each measured with `measurePeak`, run with `memoryProbe`), then the plan's size. One per
 * prepared audit: the audit loop (measure.ts) makes the probe with its first batches, and what
 * runs before them — the health sample (diagnostics.ts), in the CLI — runs in the probe's session
 * and sizes its runs from the planner, so no batch runs in the arena session before the plan is
 * made (batch-pipeline.ts).
 */
export class MemoryPlanner {
  /** Set once the probe is done (tests may set it to skip the probe). */
  plan: BatchPlan | undefined;
  /**
   * Bytes a point keeps resident outside the composed session's run, for two batches at once —
   * the views made on the host (host-augment.ts) for the batch running and the next, packed
   * meanwhile — which the probe's single batches see once, and not in the arena: planBatchSize's
   * `held`. Set by the audit before its first batch.
   */
  heldPerPoint = 0;
  readonly #runs: ProbeRun[] = [];

  constructor(
    readonly budget: number,
    /** Points per batch at most (the configured batch size, capped by the views' size). */
    readonly maxBatch: number,
    private readonly onPlan?: (plan: BatchPlan) => void,
  ) {}

  /** Whether the next batch is a probe batch (a batch of one point has nothing to plan). */
  get probing(): boolean {
    return this.plan === undefined && this.maxBatch > 1;
  }

  /** Points of the next batch: 1, then 2 while probing; then the plan's. */
  nextSize(): number {
    if (this.probing) return this.#runs.length + 1;
    return this.plan?.batchSize ?? this.maxBatch;
  }

  /**
   * A probe batch of `points` points and what it measured. A batch of another size (the last points
   * of a range shorter than the probe) is not a measurement: the probe goes on with the next batch.
   */
  record(points: number, run: ProbeRun): void {
    if (!this.probing || points !== this.#runs.length + 1) return;
    this.#runs.push(run);
    if (this.#runs.length === 2) {
      const [one, two] = this.#runs.map(({ before, peak }) => (peak === undefined ? undefined : { before, peak }));
      this.plan = planBatchSize(this.budget, this.maxBatch, one && two && { one, two }, this.heldPerPoint);
      this.onPlan?.(this.plan);
    }
  }
}

/** Measures a batch run's peak resident size: resets the peak, runs, reads it back. */
export async function measurePeak<T>(run: () => Promise<T>): Promise<{ value: T } & ProbeRun> {
  const canReset = resetPeakRss();
  const before = statusField("VmRSS") ?? 0;
  const value = await run();
  return { value, before, peak: canReset ? peakRss() : undefined };
}

/**
 * The most resident memory ONNX Runtime's CPU arena may hold for a batch whose run needs
 * `activations` bytes. The planned batches run in the session with the arena, a BFC arena with
 * ORT's defaults (Node cannot configure them): its first region is 1 MiB, each further region is
 * twice the last, and a request larger than the next region gets a region of the power of two
 * above it (BFCArena::Extend). So the regions are powers of two, each larger than all the earlier
 * ones together, and the arena never returns them. A run's largest tensor may be nearly all of its
 * activations — in ResNet-18 at 224×224 the first convolution's output is 98 MiB of a point's
 * ~150 — so it may need a region of the power of two at or above `activations`, on top of the
 * smaller ones before it: at most twice that power of two, which is also what the arena reaches
 * when it grows for the run's live tensors alone (it adds a region only when the earlier ones,
 * together just under the new one, do not hold them). Measured on ResNet-18 (16 pairs, host
 * views, batches of 1–4 points, this project's 2-core machine): the audit's peak rose by 212,
 * 429, 867 and 788 MiB — a step at 3 points, where the convolution's output (294 MiB) passed
 * 256 MiB — while the probe measured 148–172 MiB for a first point and 104–159 for each further
 * one. Twice the activations, the bound used before, missed that step: it planned 3 points, which
 * peaked at 1 539 and 1 672 MiB against a 1 536 MiB budget.
 */
export function arenaBound(activations: number): number {
  const region = 2 ** Math.ceil(Math.log2(Math.max(activations, MIB) / MIB)) * MIB;
  return 2 * region;
}

/**
 * The batch size for `budget` from the probe's two runs: resident bytes before each and their
 * peaks. Resident sizes only bound what a run needs from below — a run first reuses memory the
 * allocator holds free (the models' buffers of loading, the previous run's tensors), and garbage
 * collected between the runs lowers the second — so every estimate is taken at its largest:
 *
 *   perPoint     = max(peakTwo − peakOne, (peakTwo − beforeTwo) / 2)
 *   firstPoint   = max(peakOne − beforeOne, perPoint)
 *   activations(N) = firstPoint + (N − 1) · perPoint       base = min(beforeOne, beforeTwo)
 *
 * and the batch is the largest N (at most `maxBatch`, at least 1) with
 * base + arenaBound(activations(N)) + N · held within the budget, `held` being the bytes a point
 * keeps outside the session for two batches at once (MemoryPlanner.heldPerPoint). Without a probe
 * (peaks not measurable), the configured batch size.
 */
export function planBatchSize(budget: number, maxBatch: number, probe: { one: MeasuredRun; two: MeasuredRun } | undefined, held = 0): BatchPlan {
  if (probe === undefined) {
    return { budget, batchSize: maxBatch, note: "peak resident memory cannot be measured here; using the configured batch size" };
  }
  const { one, two } = probe;
  const base = Math.min(one.before, two.before);
  // A point costs something, whatever the allocator's noise.
  const perPoint = Math.max(two.peak - one.peak, (two.peak - two.before) / 2, MIB);
  const firstPoint = Math.max(one.peak - one.before, perPoint);
  const need = (points: number) => base + arenaBound(firstPoint + (points - 1) * perPoint) + points * held;
  const measured = { budget, perPoint, base, firstPoint, ...(held > 0 ? { held } : {}) };
  if (need(1) > budget) {
    return { ...measured, batchSize: 1, note: `one point needs about ${mib(need(1))} MiB, above the memory budget of ${mib(budget)} MiB` };
  }
  let batchSize = 1;
  while (batchSize < maxBatch && need(batchSize + 1) <= budget) batchSize++;
  return { ...measured, batchSize };
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
