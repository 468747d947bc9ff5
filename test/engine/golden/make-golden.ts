/**
 * Writes golden.json: the per-point measurements of every PIPELINE_CASES case. Run once with the
 * pipeline the golden values describe: node --import tsx test/engine/golden/make-golden.ts
 */
import { writeFileSync } from "node:fs";
import { AuditConfigSchema } from "../../../src/core/audit-config.ts";
import { openPointSet } from "../../../src/data/sources.ts";
import { prepareAudit } from "../../../src/engine/audit.ts";
import { measurePoints } from "../../../src/engine/measure.ts";
import { tempDir } from "../../helpers/audit-inputs.ts";
import { PIPELINE_CASES, writePipelineInputs } from "./pipeline-cases.ts";

const paths = writePipelineInputs(tempDir());
const golden: Record<string, { id: string; score: number; alignTarget: number; alignReference: number; stdErr: number }[]> = {};
for (const c of PIPELINE_CASES) {
  const candidates = await openPointSet(paths.candidates);
  const controls = await openPointSet(paths.controls);
  const { target, reference } = c.encoders();
  const prepared = await prepareAudit({ target, reference, candidates, controls }, AuditConfigSchema.parse({ ...c.config, batchSize: 3 }), { providers: ["cpu"], threads: 1 });
  const rows = await measurePoints(prepared.context);
  golden[c.name] = rows.map((r) => ({ id: r.id, score: r.score, alignTarget: r.alignTarget, alignReference: r.alignReference, stdErr: r.stdErr }));
  await prepared.release();
  await candidates.close();
  await controls.close();
}
writeFileSync(new URL("./golden.json", import.meta.url), JSON.stringify(golden, null, 1) + "\n");
console.log(`wrote ${Object.keys(golden).length} cases`);
