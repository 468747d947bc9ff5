/**
 * The audit's scores do not depend on how the pipeline runs: every case of pipeline-cases.ts,
 * measured now with batch sizes 1, 3 and 8 through the composed graph and with the chained
 * sessions, equals golden.json — the measurements of the per-point
 * pipeline before the one-pass pipeline replaced it — to 1e-5 (float32 rounding of the views and of
 * the in-graph distances; the estimator is unchanged).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { PIPELINE_CASES, writePipelineInputs } from "./golden/pipeline-cases.ts";

type Golden = Record<string, { id: string; score: number; alignTarget: number; alignReference: number; stdErr: number }[]>;
const golden = JSON.parse(readFileSync(new URL("./golden/golden.json", import.meta.url), "utf8")) as Golden;
const TOLERANCE = 1e-5;
const paths = writePipelineInputs(tempDir());

for (const c of PIPELINE_CASES) {
  test(`scores equal the per-point pipeline's: ${c.name}`, async () => {
    const expected = golden[c.name];
    assert.ok(expected, `golden.json has no case "${c.name}" (run test/engine/golden/make-golden.ts with the old pipeline)`);
    // On the CPU the composed pipeline makes the views on the host (host-augment.ts) unless told to
    // make them in the graph: both are held to the golden scores.
    const runs = [
      { batchSize: 1, pipeline: "auto", augmentation: "host" },
      { batchSize: 3, pipeline: "auto", augmentation: "host" },
      { batchSize: 8, pipeline: "auto", augmentation: "host" },
      { batchSize: 1, pipeline: "auto", augmentation: "graph" },
      { batchSize: 8, pipeline: "auto", augmentation: "graph" },
      { batchSize: 3, pipeline: "chained", augmentation: undefined },
    ] as const;
    for (const { batchSize, pipeline, augmentation } of runs) {
      const candidates = await openPointSet(paths.candidates);
      const controls = await openPointSet(paths.controls);
      const { target, reference } = c.encoders();
      const prepared = await prepareAudit({ target, reference, candidates, controls }, AuditConfigSchema.parse({ ...c.config, batchSize }), { providers: ["cpu"], threads: 1, pipeline, ...(augmentation ? { augmentation } : {}) });
      try {
        assert.equal(prepared.pipeline.mode, pipeline === "auto" ? "fused" : "chained", prepared.pipeline.reason);
        assert.equal(prepared.pipeline.augmentation, augmentation);
        const rows = await measurePoints(prepared.context);
        assert.deepEqual(rows.map((r) => r.id), expected.map((e) => e.id));
        let worst = 0;
        rows.forEach((r, i) => {
          for (const key of ["score", "alignTarget", "alignReference", "stdErr"] as const) worst = Math.max(worst, Math.abs(r[key] - expected[i][key]));
        });
        const label = `${pipeline} pipeline${augmentation ? `, views made in the ${augmentation}` : ""}, batch size ${batchSize}`;
        assert.ok(worst <= TOLERANCE, `${label}: largest difference ${worst} > ${TOLERANCE}`);
        if (process.env.SSLMEM_PRINT_DIFFS) console.log(`${c.name} ${label}: ${worst.toExponential(2)}`);
      } finally {
        await prepared.release();
        await candidates.close();
        await controls.close();
      }
    }
  });
}
