import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { flagConfigFrom, flagPoints, type FlagConfig } from "../../src/core/flags.ts";
import type { PointMeasurement } from "../../src/core/scores.types.ts";
import { simulateAudit } from "../helpers/core-null-sim.ts";

const point = (id: string, role: PointMeasurement["role"], score: number): PointMeasurement => ({
  id,
  role,
  alignTarget: 0.5,
  alignReference: 0.5 + score,
  score,
  stdErr: 0.01,
  pairs: 4,
});
const base: FlagConfig = { method: "fpr", fpr: 0.1, fdr: 0.05, robustZ: 3.5 };

describe("flagPoints", () => {
  const candidates = [point("a", "candidate", 18.5), point("b", "candidate", 0), point("c", "candidate", 20)];
  const controls = Array.from({ length: 19 }, (_, i) => point(`k${i}`, "control", i + 1));

  it("returns candidates then controls, normalized, with p-values; controls are never flagged", () => {
    const out = flagPoints(candidates, controls, base);
    assert.equal(out.method, "fpr");
    assert.equal(out.calibrated, true);
    assert.equal(out.threshold, 18);
    assert.deepEqual(
      out.results.map((r) => r.id),
      ["a", "b", "c", ...controls.map((c) => c.id)],
    );
    assert.deepEqual(
      out.results.slice(0, 3).map((r) => [r.flagged, r.pValue]),
      [
        [true, 2 / 20],
        [false, 1],
        [true, 1 / 20],
      ],
    );
    // Candidate range 20 − 0 = 20.
    assert.deepEqual(
      out.results.slice(0, 3).map((r) => r.scoreNormalized),
      [18.5 / 20, 0, 1],
    );
    assert.ok(out.results.slice(3).every((r) => r.flagged === false && r.pValue !== undefined));
    assert.equal(out.results[3].scoreNormalized, 1 / 20);
  });

  it("requires controls for fpr and fdr", () => {
    for (const method of ["fpr", "fdr"] as const) {
      assert.throws(
        () => flagPoints(candidates, [], { ...base, method }),
        (e: unknown) => e instanceof SslmemError && e.code === "controls_required",
      );
    }
  });

  it("robust and threshold flags are uncalibrated and carry no p-values", () => {
    const robust = flagPoints([point("a", "candidate", 1), point("b", "candidate", 2), point("c", "candidate", 3), point("d", "candidate", 4), point("e", "candidate", 100)], [], {
      ...base,
      method: "robust",
    });
    assert.equal(robust.calibrated, false);
    assert.deepEqual(
      robust.results.map((r) => r.flagged),
      [false, false, false, false, true],
    );
    assert.ok(robust.results.every((r) => r.pValue === undefined));
    assert.match(robust.warnings[0], /uncalibrated/);

    const threshold = flagPoints(candidates, controls, { ...base, method: "threshold", threshold: 0.95 });
    assert.deepEqual(
      threshold.results.slice(0, 3).map((r) => r.flagged),
      [false, false, true],
    );
    assert.equal(threshold.threshold, 19);
    assert.equal(threshold.calibrated, false);
  });

  it("fdr carries diagnostics and no score cut", () => {
    const audit = simulateAudit(3, { controls: 200, candidates: 300, memorized: 0.1, signal: 0.06 });
    const out = flagPoints(audit.candidates, audit.controls, { ...base, method: "fdr" });
    assert.equal(out.diagnostics?.controls, 200);
    assert.equal(out.threshold, undefined);
    assert.equal(out.results.length, 500);
    assert.ok(out.results.slice(0, 300).some((r) => r.flagged));
  });

  it("rejects a point passed in the wrong role", () => {
    assert.throws(() => flagPoints([point("x", "control", 1)], [], { ...base, method: "robust" }), (e: unknown) => e instanceof SslmemError && e.code === "internal");
  });
});

describe("flagConfigFrom", () => {
  it("resolves the method from the config and the presence of controls", () => {
    const config = AuditConfigSchema.parse({});
    assert.equal(flagConfigFrom(config, true).method, "fpr");
    assert.equal(flagConfigFrom(config, false).method, "robust");
    const fdr = flagConfigFrom(AuditConfigSchema.parse({ flag: "fdr", fdr: 0.1 }), true);
    assert.deepEqual(fdr, { method: "fdr", fpr: 0.01, fdr: 0.1, threshold: undefined, robustZ: 3.5 });
  });
});
