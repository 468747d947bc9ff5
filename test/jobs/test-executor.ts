/**
 * A small AuditExecutor for the runner and HTTP tests: it writes deterministic rows through the
 * real store, batch by batch, the way the engine's executor does (idempotent appends, skipping
 * committed batches on resume, finalize at the end) — without loading any model.
 *
 * Timing is controlled by gates, never by sleeps: a test can hold the executor at a batch and
 * learn (deterministically) that it got there.
 */
import { SslmemError } from "../../src/core/errors.ts";
import type { ReportV1 } from "../../src/core/report.ts";
import { fixtureReport } from "../helpers/report-fixture.ts";
import type { AuditExecution, AuditExecutor, ExecutionContext } from "../../src/jobs/types.ts";
import type { AuditRecord, MeasurementStore, ResultRow } from "../../src/store/types.ts";

/** A one-shot barrier: `reached` resolves when the executor arrives, `open()` lets it pass. */
export class Gate {
  #arrive!: () => void;
  #release!: () => void;
  readonly reached = new Promise<void>((r) => (this.#arrive = r));
  readonly #opened = new Promise<void>((r) => (this.#release = r));

  /** Called by the executor: announces arrival and waits for open() or the abort signal. */
  async pass(signal: AbortSignal): Promise<void> {
    this.#arrive();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      void this.#opened.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  open(): void {
    this.#release();
  }
}

export interface TestExecutorOptions {
  /** Points per audit (default 10). */
  points?: number;
  /** Points per batch (default 4). */
  batchSize?: number;
  /** Gates by audit id, taken before the batch starting at `atIndex` (default 0). */
  gates?: Map<string, { gate: Gate; atIndex?: number }>;
  /** A gate every audit passes before its first batch (for "hold whatever runs next"). */
  firstBatchGate?: () => Gate | undefined;
  /** A gate by the order the audit started in (0 = first) and the batch's first index. */
  gateAt?: (ordinal: number, atIndex: number) => Gate | undefined;
  /** Thrown at the first batch of an audit whose id is in the map. */
  failures?: Map<string, Error>;
}

/** score of point i: deterministic, spread out, with a few clear outliers. */
export function scoreOf(index: number): number {
  return index % 4 === 0 ? 1 + index / 100 : (index % 7) / 100;
}

export function rowOf(index: number): ResultRow {
  const score = scoreOf(index);
  return {
    index,
    id: `img/${String(index).padStart(4, "0")}.png`,
    role: "candidate",
    alignTarget: 0.5,
    alignReference: 0.5 + score,
    score,
    stdErr: 0.01,
    pairs: 4,
  };
}

export class TestExecutor implements AuditExecutor {
  readonly started: string[] = [];
  readonly options: TestExecutorOptions;
  readonly #store: MeasurementStore;

  constructor(store: MeasurementStore, options: TestExecutorOptions = {}) {
    this.#store = store;
    this.options = options;
  }

  async execute(audit: AuditRecord, ctx: ExecutionContext): Promise<AuditExecution> {
    const ordinal = this.started.push(audit.id) - 1;
    const n = this.options.points ?? 10;
    const batch = this.options.batchSize ?? 4;
    const committed = new Set(await this.#store.committedIndices(audit.id));
    const first = this.options.firstBatchGate?.();
    if (first) await first.pass(ctx.signal);
    for (let start = 0; start < n; start += batch) {
      ctx.signal.throwIfAborted();
      const failure = this.options.failures?.get(audit.id);
      if (failure) throw failure;
      const gated = this.options.gates?.get(audit.id);
      if (gated && (gated.atIndex ?? 0) === start) await gated.gate.pass(ctx.signal);
      await this.options.gateAt?.(ordinal, start)?.pass(ctx.signal);
      const rows: ResultRow[] = [];
      for (let i = start; i < Math.min(n, start + batch); i++) if (!committed.has(i)) rows.push(rowOf(i));
      if (rows.length > 0) await this.#store.appendResults(audit.id, rows);
      ctx.scored({ points: rows.length, views: rows.length * 8 });
      await ctx.progress({ stage: "measuring", done: Math.min(n, start + batch), total: n });
    }
    const scores = Array.from({ length: n }, (_, i) => scoreOf(i));
    const range = Math.max(...scores) - Math.min(...scores);
    const updates = scores.map((s, index) => ({ index, scoreNormalized: s / range, flagged: index % 4 === 0 }));
    await this.#store.finalizeResults(audit.id, updates);
    const flagged = updates.filter((u) => u.flagged).length;
    const summary = { points: n, flagged };
    return { summary, report: reportWithoutPoints(audit.id) };
  }
}

let template: Omit<ReportV1, "points"> | undefined;

/**
 * A valid v1 report without its points (the engine's executor stores it like this; the points are
 * the rows in the store). Its audit info and summary come from the report fixture.
 */
export function reportWithoutPoints(auditId: string): Record<string, unknown> {
  if (!template) {
    const { points: _points, ...rest } = fixtureReport("robust", { candidates: 20, hostileIds: false });
    template = rest;
  }
  return { ...template, audit: { ...template.audit, id: auditId } };
}

export const userFailure = () => new SslmemError("model_invalid", "the target model is not an ONNX file; export it with torch.onnx.export");
