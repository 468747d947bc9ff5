/**
 * Writes schemas/report.v1.schema.json from the zod schema in src/core/report.ts.
 * Run after changing the report model: `node --import tsx scripts/gen-report-schema.ts`.
 * test/core/report.test.ts fails while the committed file differs from what this writes.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { reportJsonSchemaText } from "../src/core/report.ts";

const target = fileURLToPath(new URL("../schemas/report.v1.schema.json", import.meta.url));
writeFileSync(target, reportJsonSchemaText());
console.log(`wrote ${target}`);
