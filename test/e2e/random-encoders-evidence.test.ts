/**
 * The set-level verdict does not cry wolf: two randomly initialised encoders have memorized
 * nothing, so on the fixture's held-out images the rank test must find no evidence — and over many
 * independent encoder pairs and view seeds, its false-evidence rate must stay at the level.
 *
 * Real encoders (ONNX Runtime), real images (the fixture's controls, never seen by any encoder),
 * the real engine pipeline; small so that 100 audits take seconds. The score-level simulation with
 * thousands of sets is in test/core/evidence.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { describeAudit, finalizeAudit, prepareAudit } from "../../src/engine/audit.ts";
import { measurePoints } from "../../src/engine/measure.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const root = new URL("../..", import.meta.url).pathname;
const PAIRS = 100;
const LEVEL = 0.05;
const CANDIDATES = 30;
const CONTROLS = 60;

test(`random encoders: no evidence of memorization, false-evidence rate ≤ level over ${PAIRS} encoder pairs`, async (t) => {
  const dir = tempDir();
  const pool = await openPointSet(join(root, "fixtures/data/controls.npy"));
  const images: Uint8Array[] = [];
  for (let i = 0; i < pool.size; i++) images.push((await pool.load(i)).data);
  await pool.close();
  const subset = (name: string, from: number, n: number): string => {
    const data = new Uint8Array(n * 32 * 32 * 3);
    for (let k = 0; k < n; k++) data.set(images[(from + k) % images.length], k * 32 * 32 * 3);
    const path = join(dir, name);
    writeFileSync(path, writeNpy({ shape: [n, 32, 32, 3], data }));
    return path;
  };

  const pValues: number[] = [];
  for (let s = 0; s < PAIRS; s++) {
    const offset = (s * 37) % images.length;
    const candidates = await openPointSet(subset(`c${s}.npy`, offset, CANDIDATES));
    const controls = await openPointSet(subset(`k${s}.npy`, offset + CANDIDATES, CONTROLS));
    const config = AuditConfigSchema.parse({ views: 4, seed: s, batchSize: 32, evidenceLevel: LEVEL });
    const target = convNet({ seed: 1000 + s, height: 32, width: 32, widths: [8, 16], dim: 12 });
    const reference = convNet({ seed: 5000 + s, height: 32, width: 32, widths: [8, 16], dim: 12 });
    const prepared = await prepareAudit({ target, reference, candidates, controls }, config, { providers: ["cpu"], threads: 1 });
    try {
      const measured = await measurePoints(prepared.context);
      const { report } = finalizeAudit(describeAudit(prepared, { id: `random-${s}`, created: new Date() }, config), measured, config);
      const e = report.summary.evidence;
      assert.ok(e, "an audit with controls has a verdict");
      assert.equal(e.level, LEVEL);
      assert.equal(e.evidence, e.pValue <= LEVEL);
      pValues.push(e.pValue);
    } finally {
      await prepared.release();
      await candidates.close();
      await controls.close();
    }
  }
  const falseEvidence = pValues.filter((p) => p <= LEVEL).length;
  t.diagnostic(`false evidence in ${falseEvidence} of ${PAIRS} random encoder pairs at level ${LEVEL}`);
  // Binomial(100, 0.05): mean 5, sd 2.18. More than mean + 3 sd means the test is anti-conservative.
  assert.ok(falseEvidence <= 11, `false evidence in ${falseEvidence} of ${PAIRS} random encoder pairs at level ${LEVEL} (p-values ${pValues.map((p) => p.toFixed(3)).join(" ")})`);
  // The p-values spread over (0, 1) as a null's do: not stuck at 1 (a test that can never fire).
  const median = [...pValues].sort((a, b) => a - b)[PAIRS / 2];
  assert.ok(median > 0.2 && median < 0.8, `median p-value ${median.toFixed(3)} near 0.5`);
});
