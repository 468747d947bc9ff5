import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { flagPoints } from "../../src/core/flags.ts";
import { resolvePolicy } from "../../src/core/policy.ts";
import {
  REPORT_SCHEMA_VERSION,
  ReportConfigSchema,
  ReportV1Schema,
  buildReport,
  reportJsonSchemaText,
  type ReportAuditInfo,
} from "../../src/core/report.ts";
import type { PointResult } from "../../src/core/scores.types.ts";
import { buildSummary, scoreHistogram, topCandidates } from "../../src/core/summary.ts";
import { simulateAudit } from "../helpers/core-null-sim.ts";

function auditInfo(): ReportAuditInfo {
  const parsed = AuditConfigSchema.parse({ seed: 7, flag: "fdr" });
  const encoder = (hexDigit: string) => ({
    digest: `sha256:${hexDigit.repeat(64)}`,
    inputs: [{ name: "pixel_values", dtype: "float32", shape: ["batch", 3, 224, 224] }],
    outputs: [{ name: "last_hidden_state", dtype: "float32", shape: ["batch", 197, 384] }],
    representation: { output: "last_hidden_state", pooling: "cls" as const, dim: 384 },
  });
  return {
    id: "aud_01",
    created: "2025-01-02T03:04:05.678Z",
    target: encoder("a"),
    reference: encoder("b"),
    provider: "cpu",
    engine: { name: "onnxruntime", version: "1.30.0" },
    preprocessing: { height: 224, width: 224, layout: "NCHW", range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    config: ReportConfigSchema.parse({ ...parsed, augment: resolvePolicy(parsed.augment), pool: parsed.pool ?? "flatten" }),
    candidatesSource: { kind: "directory", count: 300, skipped: 2 },
    controlsSource: { kind: "npy", count: 200, skipped: 0 },
  };
}

const result = (id: string, role: PointResult["role"], score: number, extra: Partial<PointResult> = {}): PointResult => ({
  id,
  role,
  alignTarget: 0.4,
  alignReference: 0.4 + score,
  score,
  stdErr: 0.01,
  pairs: 16,
  scoreNormalized: score / 10,
  flagged: false,
  ...extra,
});

describe("scoreHistogram", () => {
  it("has 20 equal-width bins over the candidate range; the maximum lands in the last bin", () => {
    // Scores 0, 1, …, 10: width 0.5, so bin 2j holds score j (j = 0..9) and bin 19, [9.5, 10], holds 10.
    const scores = Array.from({ length: 11 }, (_, i) => i);
    const h = scoreHistogram(scores, [-1, 5, 5.2, 10, 11]);
    assert.equal(h.bins.length, 20);
    assert.deepEqual(h.bins[0], { lo: 0, hi: 0.5, count: 1, controls: 0 });
    assert.deepEqual(h.bins[19], { lo: 9.5, hi: 10, count: 1, controls: 1 });
    assert.deepEqual(
      h.bins.map((b) => b.count),
      [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1],
    );
    // Controls: 5 and 5.2 in [5, 5.5) (bin 10); −1 below and 11 above the range.
    assert.equal(h.bins[10].controls, 2);
    assert.equal(h.controlsBelow, 1);
    assert.equal(h.controlsAbove, 1);
    assert.equal(h.thresholdScore, undefined);
    assert.equal(
      h.bins.reduce((s, b) => s + b.count, 0),
      11,
    );
  });

  it("uses one [v, v] bin when all candidate scores are equal", () => {
    const h = scoreHistogram([0.3, 0.3, 0.3], [0.3, 0.1], 0.5);
    assert.deepEqual(h.bins, [{ lo: 0.3, hi: 0.3, count: 3, controls: 1 }]);
    assert.equal(h.controlsBelow, 1);
    assert.equal(h.thresholdScore, 0.5);
  });

  it("keeps bin edges contiguous and counts every candidate for awkward ranges", () => {
    const scores = [0.1, 0.7, 0.30000000000000004, 0.2, 0.9999999];
    const h = scoreHistogram(scores, []);
    for (let i = 1; i < h.bins.length; i++) assert.equal(h.bins[i].lo, h.bins[i - 1].hi);
    assert.equal(h.bins[0].lo, 0.1);
    assert.equal(h.bins[19].hi, 0.9999999);
    assert.equal(
      h.bins.reduce((s, b) => s + b.count, 0),
      5,
    );
  });
});

describe("buildSummary", () => {
  it("summarizes candidates, ranks the top 10, and keeps the flag outcome", () => {
    const results = [
      ...Array.from({ length: 12 }, (_, i) => result(`x${String(i).padStart(2, "0")}`, "candidate", i, { flagged: i >= 10, pValue: 1 / (i + 1) })),
      result("tie", "candidate", 11, { flagged: true, pValue: 1 / 12 }),
      result("k0", "control", 50),
    ];
    const flag = { method: "fpr" as const, parameters: { alpha: 0.01 }, calibrated: true, threshold: 9.5, warnings: ["w"] };
    const s = buildSummary(results, flag);
    assert.equal(s.candidates, 13);
    assert.equal(s.controls, 1);
    assert.equal(s.flagged, 3);
    assert.equal(s.flaggedFraction, 3 / 13);
    // mean of 0..11 and 11 = (66 + 11)/13; median of 0,1,…,11,11 = 6
    assert.equal(s.meanScore, 77 / 13);
    assert.equal(s.medianScore, 6);
    assert.deepEqual(s.flag, flag);
    assert.equal(s.histogram.thresholdScore, 9.5);
    assert.equal(s.histogram.controlsAbove, 1);
    assert.equal(s.top.length, 10);
    // The tie at 11 is broken by id: "tie" < "x11".
    assert.deepEqual(
      s.top.slice(0, 3).map((t) => t.id),
      ["tie", "x11", "x10"],
    );
    assert.deepEqual(s.top[0], { id: "tie", score: 11, scoreNormalized: 1.1, pValue: 1 / 12, flagged: true });
  });

  it("needs at least one candidate", () => {
    assert.throws(
      () => buildSummary([result("k", "control", 1)], { method: "robust", parameters: {}, calibrated: false, warnings: [] }),
      (e: unknown) => e instanceof SslmemError && e.code === "candidates_empty",
    );
    assert.deepEqual(topCandidates([result("k", "control", 1)]), []);
  });
});

describe("buildReport", () => {
  const audit = simulateAudit(11, { controls: 200, candidates: 300, memorized: 0.1, signal: 0.06 });
  const flag = flagPoints(audit.candidates, audit.controls, { method: "fdr", fpr: 0.01, fdr: 0.05, robustZ: 3.5 });

  it("builds a report that its schema accepts, also after a JSON round trip", () => {
    const report = buildReport({ audit: auditInfo(), results: flag.results, flag });
    assert.equal(report.schemaVersion, REPORT_SCHEMA_VERSION);
    assert.equal(report.points.length, 500);
    assert.equal(report.summary.candidates, 300);
    assert.equal(report.summary.flag.method, "fdr");
    assert.ok(report.summary.flag.diagnostics?.tail);
    assert.equal(report.audit.config.augment.ops[0].op, "randomResizedCrop");
    assert.equal("pairs" in report.points[0], false);
    const roundTrip = JSON.parse(JSON.stringify(report));
    assert.deepEqual(ReportV1Schema.parse(roundTrip), report);
  });

  it("refuses to build a report that breaks its schema", () => {
    const bad = { ...auditInfo(), target: { ...auditInfo().target, digest: "md5:abc" } };
    assert.throws(
      () => buildReport({ audit: bad, results: flag.results, flag }),
      (e: unknown) => e instanceof SslmemError && e.code === "internal" && JSON.stringify(e.details).includes("audit.target.digest"),
    );
  });

  it("rejects unknown fields and an unresolved augmentation preset", () => {
    const report = buildReport({ audit: auditInfo(), results: flag.results, flag });
    assert.equal(ReportV1Schema.safeParse({ ...report, extra: 1 }).success, false);
    const preset = { ...report, audit: { ...report.audit, config: { ...report.audit.config, augment: "simclr" } } };
    assert.equal(ReportV1Schema.safeParse(preset).success, false);
  });
});

describe("schemas/report.v1.schema.json", () => {
  it("is what scripts/gen-report-schema.ts generates (run it after changing the report model)", () => {
    const committed = readFileSync(new URL("../../schemas/report.v1.schema.json", import.meta.url), "utf8");
    assert.equal(committed, reportJsonSchemaText());
  });

  it("is a draft 2020-12 schema that requires the top-level sections", () => {
    const schema = JSON.parse(reportJsonSchemaText());
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.deepEqual(schema.required, ["schemaVersion", "audit", "summary", "points"]);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.schemaVersion.const, REPORT_SCHEMA_VERSION);
  });
});
