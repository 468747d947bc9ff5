/**
 * Stress check of the fdr calibration beyond the unit test's scenario: smooth heteroscedasticity
 * (increasing / decreasing in the covariate), heavy-tailed and skewed noise, a global null, few
 * controls. Prints the realized FDR (mean FDP; under a global null, the chance of any false flag)
 * and the mean TPR over seeded replications. Run: `node --import tsx scripts/fdr-stress.ts [reps]`.
 * The numbers quoted in src/core/calibration/tail-fit.ts come from this script.
 */
import { fdrFlags } from "../src/core/calibration/fdr.ts";
import { fdpAndTpr, simulateAudit, type SimOptions } from "../test/helpers/core-null-sim.ts";

const reps = Number(process.argv[2] ?? 100);
const base = { controls: 400, candidates: 1000, signal: 0.06 };
const scenarios: Array<{ name: string; q: number; sim: SimOptions }> = [
  { name: "step 5x, 10% memorized", q: 0.05, sim: { ...base, memorized: 0.1 } },
  { name: "step 10x, 10% memorized", q: 0.05, sim: { ...base, memorized: 0.1, atypicalSd: 0.1 } },
  { name: "step 5x, 2% weak", q: 0.1, sim: { ...base, memorized: 0.02, signal: 0.04 } },
  { name: "step 5x, 60 controls", q: 0.1, sim: { ...base, controls: 60, candidates: 500, memorized: 0.1 } },
  { name: "step 5x, global null", q: 0.1, sim: { ...base, memorized: 0 } },
  ...(["increasing", "decreasing"] as const).flatMap((shape) =>
    (["normal", "t5", "skew"] as const).flatMap((noise) =>
      [0, 0.1].map((memorized) => ({
        name: `${shape} ${noise}, ${memorized === 0 ? "global null" : "10% memorized"}`,
        q: 0.1,
        sim: { ...base, signal: 0.05, memorized, shape, noise },
      })),
    ),
  ),
];

console.log(`${reps} replications each; target FDR = q·(1 − memorized)`);
for (const s of scenarios) {
  let fdp = 0;
  let tpr = 0;
  for (let r = 0; r < reps; r++) {
    const audit = simulateAudit(1 + r, s.sim);
    const out = fdrFlags(audit.candidates, audit.controls, { q: s.q });
    const m = fdpAndTpr(out.flagged, audit.truth);
    fdp += m.fdp;
    tpr += m.tpr;
  }
  const target = s.q * (1 - s.sim.memorized);
  console.log(`${s.name.padEnd(38)} q=${s.q}  FDR ${(fdp / reps).toFixed(3)} (target ≤ ${target.toFixed(3)})  TPR ${(tpr / reps).toFixed(3)}`);
}
