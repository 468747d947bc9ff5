/**
 * A dry run of an audit (`sslmem inspect`, `sslmem audit --dry-run`): everything the audit would
 * do, checked and measured before the long part — both encoders' resolved contract and where each
 * preprocessing value came from, the points by role with every skipped or undecodable file named,
 * the encoder passes, the provider, an ETA from a measured probe batch, and the health sample.
 */
import type { AuditConfig } from "../core/audit-config.ts";
import { encoderWarnings, type EncoderHealthSample } from "../core/health.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { PointSet, SkippedEntry } from "../data/point-set.ts";
import type { PreparedAudit } from "./audit.ts";
import { measureEncoderHealth } from "./diagnostics.ts";
import type { Encoder, ResolvedPreprocessing } from "./encoder.ts";
import { measurePoints } from "./measure.ts";
import { formatDims } from "./onnx/inspect.ts";

export interface EncoderContract {
  digest: string;
  input: string;
  output: string;
  pooling: string;
  dim: number;
}

export interface PointsInspection {
  kind: string;
  count: number;
  /** Entries that are not points (not images), found when the input was opened. */
  skipped: SkippedEntry[];
  /** Points whose image cannot be decoded: an audit would leave them out (--on-invalid skip). */
  invalid: SkippedEntry[];
}

export interface AuditInspection {
  target: EncoderContract;
  reference: EncoderContract;
  preprocessing: Omit<ResolvedPreprocessing, "sources"> & { sources: ResolvedPreprocessing["sources"] };
  candidates: PointsInspection;
  controls?: PointsInspection;
  viewsPerPoint: number;
  encoderPasses: number;
  provider: string;
  batchSize: number;
  probe: { points: number; seconds: number; etaSeconds: number } | null;
  health: (EncoderHealthSample & { warnings: string[] }) | null;
}

function contract(e: Encoder): EncoderContract {
  const rank = e.output.dims?.length ?? 2;
  return {
    digest: e.info.digest,
    input: `${e.info.input.name} ${formatDims(e.info.input.dims)}`,
    output: `${e.output.name} ${formatDims(e.output.dims ?? [])}`,
    pooling: rank <= 2 ? "none" : e.pool,
    dim: e.dim,
  };
}

/** Decodes every point once (no encoder work), naming those that fail. */
async function checkPoints(set: PointSet): Promise<PointsInspection> {
  const invalid: SkippedEntry[] = [];
  for (let i = 0; i < set.size; i++) {
    try {
      await set.load(i);
    } catch (e) {
      invalid.push({ id: set.ids[i], reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return { kind: set.kind, count: set.size - invalid.length, skipped: [...set.skipped], invalid };
}

export async function inspectPreparedAudit(prepared: PreparedAudit, config: AuditConfig): Promise<AuditInspection> {
  const { context, encoders, providers } = prepared;
  const { catalog } = context;
  const candidates = await checkPoints(catalog.candidates);
  const controls = catalog.controls ? await checkPoints(catalog.controls) : undefined;
  const perPoint = viewsPerPoint(config.views, config.pairing);
  const points = candidates.count + (controls?.count ?? 0);

  // The probe: the first batch of valid points, measured exactly as the audit would.
  const bad = new Set([...candidates.invalid.map((p) => catalog.candidates.ids.indexOf(p.id))]);
  const probeSize = Math.min(config.batchSize, candidates.count);
  let probe: AuditInspection["probe"] = null;
  if (probeSize > 0) {
    const started = performance.now();
    const todo: number[] = [];
    for (let i = 0; i < catalog.candidateCount && todo.length < probeSize; i++) if (!bad.has(i)) todo.push(i);
    const last = todo[todo.length - 1];
    await measurePoints(context, { to: last + 1, skip: (i) => bad.has(i) });
    const seconds = (performance.now() - started) / 1000;
    probe = { points: todo.length, seconds, etaSeconds: (seconds / todo.length) * points };
  }
  const sample = await measureEncoderHealth(prepared);
  return {
    target: contract(encoders.target),
    reference: contract(encoders.reference),
    preprocessing: { ...encoders.preprocessing },
    candidates,
    ...(controls ? { controls } : {}),
    viewsPerPoint: perPoint,
    encoderPasses: points * perPoint * 2,
    provider: providers.provider,
    batchSize: config.batchSize,
    probe,
    health: sample ? { ...sample, warnings: encoderWarnings(sample.target, sample.reference) } : null,
  };
}
