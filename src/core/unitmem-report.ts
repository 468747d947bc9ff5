/**
 * UnitMem runs: their configuration (the CLI's `sslmem units` flags are this schema) and their
 * report, `sslmem.unitmem/v1`. The zod schemas are the source of truth, as for the audit report.
 */
import { z } from "zod";
import { PreprocessingOverridesSchema } from "./audit-config.ts";
import { SslmemError } from "./errors.ts";
import { AugmentSettingSchema, AugmentationPolicySchema } from "./policy.ts";
import { UNIT_BASELINES, unitMemHistogram, type UnitScore } from "./unitmem.ts";

export const UNITMEM_SCHEMA_VERSION = "sslmem.unitmem/v1";

const layerName = z.string().min(1).max(256);

export const UnitMemConfigSchema = z
  .object({
    /** Augmented views per point (μ_k is their mean). */
    views: z.number().int().min(1).max(1024).default(16),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    augment: AugmentSettingSchema.default("simclr"),
    preprocessing: PreprocessingOverridesSchema.default({}),
    /** Encoder output that ends the `auto` layer list; default: the first output. */
    outputName: layerName.optional(),
    /** `auto` (layers.ts) or ONNX value names. */
    layers: z.union([z.literal("auto"), z.array(layerName).min(1).max(32)]).default("auto"),
    /** μ_−max: the median (authors' code) or the mean over the other points. */
    baseline: z.enum(UNIT_BASELINES).default("median"),
    /** Units listed in the report, highest UnitMem first. */
    top: z.number().int().min(1).max(1000).default(20),
    batchSize: z.number().int().min(1).max(4096).default(8),
  })
  .strict();
export type UnitMemConfigInput = z.input<typeof UnitMemConfigSchema>;
export type UnitMemConfig = z.output<typeof UnitMemConfigSchema>;

const count = z.number().int().min(0);

export const UnitMemReportSchema = z
  .strictObject({
    schemaVersion: z.literal(UNITMEM_SCHEMA_VERSION),
    run: z.strictObject({
      id: z.string().min(1),
      created: z.iso.datetime({ offset: true }),
      encoder: z.strictObject({ digest: z.string(), output: z.string() }),
      provider: z.string(),
      pipeline: z.enum(["fused", "host"]).meta({ description: "fused: augmentation, encoder and per-point means in one ONNX graph; host: layer values fetched and averaged in TypeScript." }),
      config: UnitMemConfigSchema.safeExtend({ augment: AugmentationPolicySchema }),
      points: count,
    }),
    layers: z.array(
      z.strictObject({
        name: z.string(),
        shape: z.array(z.number().int()).meta({ description: "The value's shape without the batch axis." }),
        units: count.meta({ description: "Channels of a feature map, features of a vector, token features of [T, D]." }),
        meanUnitMem: z.number(),
        medianUnitMem: z.number(),
        maxUnitMem: z.number(),
        signedUnits: count.meta({
          description: "Units whose baseline μ_−max is negative (or μ_max + μ_−max ≤ 0): UnitMem is undefined for them (it assumes non-negative, post-ReLU activations) and reported as 0.",
        }),
        histogram: z.array(z.strictObject({ lo: z.number(), hi: z.number(), count })),
      }),
    ),
    topUnits: z
      .array(
        z.strictObject({
          layer: z.string(),
          unit: count,
          unitMem: z.number(),
          point: z.string().meta({ description: "Id of the point the unit is most selective for." }),
          muMax: z.number(),
          muOthers: z.number().meta({ description: "μ_−max: the baseline (median or mean) over the other points." }),
        }),
      )
      .meta({ description: "Units with the highest UnitMem over all layers." }),
    points: z
      .array(z.strictObject({ id: z.string(), units: count, meanUnitMem: z.number() }))
      .meta({ description: "Points that the most units single out (are most selective for), with those units' mean UnitMem." }),
  })
  .meta({ title: "sslmem UnitMem report v1" });

export type UnitMemReport = z.output<typeof UnitMemReportSchema>;

export interface UnitLayerResult {
  name: string;
  shape: number[];
  scores: UnitScore[];
}

const POINTS_LISTED = 20;

/** The report from each layer's unit scores; `ids[k]` names point k. */
export function buildUnitMemReport(run: UnitMemReport["run"], layers: readonly UnitLayerResult[], ids: readonly string[]): UnitMemReport {
  const sorted = (xs: number[]) => Float64Array.from(xs).sort();
  const layerSummaries = layers.map((l) => {
    const values = l.scores.map((s) => s.unitMem);
    const s = sorted(values);
    const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    return {
      name: l.name,
      shape: l.shape,
      units: values.length,
      meanUnitMem: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
      medianUnitMem: s.length ? mid : 0,
      maxUnitMem: s.length ? s[s.length - 1] : 0,
      signedUnits: l.scores.filter((x) => x.signed).length,
      histogram: unitMemHistogram(values),
    };
  });
  const all = layers.flatMap((l) => l.scores.map((s) => ({ layer: l.name, ...s })));
  const topUnits = [...all]
    .sort((a, b) => b.unitMem - a.unitMem)
    .slice(0, run.config.top)
    .map((s) => ({ layer: s.layer, unit: s.unit, unitMem: s.unitMem, point: ids[s.point], muMax: s.muMax, muOthers: s.muOthers }));
  const perPoint = new Map<number, { units: number; sum: number }>();
  for (const s of all) {
    const entry = perPoint.get(s.point) ?? { units: 0, sum: 0 };
    entry.units++;
    entry.sum += s.unitMem;
    perPoint.set(s.point, entry);
  }
  const points = [...perPoint]
    .sort((a, b) => b[1].units - a[1].units || b[1].sum - a[1].sum)
    .slice(0, POINTS_LISTED)
    .map(([k, e]) => ({ id: ids[k], units: e.units, meanUnitMem: e.sum / e.units }));
  const report = { schemaVersion: UNITMEM_SCHEMA_VERSION, run, layers: layerSummaries, topUnits, points };
  const parsed = UnitMemReportSchema.safeParse(report);
  if (!parsed.success) {
    throw new SslmemError("internal", "the UnitMem report does not match its schema", {
      issues: parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  return parsed.data;
}
