/**
 * Prints the case tables of CASES.md from the case definitions (the prose around them is written
 * by hand): node --import tsx test/hardening/support/print-cases.ts
 */
import { ERROR_CODES } from "../../../src/core/errors.ts";
import { ARCHIVE_CASES } from "../cases/archives.ts";
import { CLI_CASES } from "../cases/cli.ts";
import { IMAGE_CASES } from "../cases/images.ts";
import { MODEL_CASES } from "../cases/models.ts";
import { REQUEST_CASES } from "../cases/requests.ts";
import { REQUEST_STREAM_CASES } from "../cases/requests-streams.ts";
import type { HostileCase } from "../cases/types.ts";
const md = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "/").replace(/\*/g, "\\*");
const section = (title: string, cases: HostileCase[]) => {
  console.log(`\n## ${title}\n`);
  console.log("| ID | Input | Stopped at | Expected | Problem code | Checked beyond the common checks |");
  console.log("|---|---|---|---|---|---|");
  for (const c of [...cases].sort((a, b) => a.id.localeCompare(b.id))) {
    const e = c.expect;
    const status = e.kind === "refused" ? String(e.status) : e.kind === "failed" ? `202 → failed (${ERROR_CODES[e.code]})` : "202 → succeeded";
    const code = e.kind === "succeeded" ? "—" : `\`${e.code}\``;
    console.log(`| ${c.id} | ${md(c.input)} | ${md(c.layer)} | ${status} | ${code} | ${md(c.checks ?? "")} |`);
  }
};
section("Models", MODEL_CASES);
section("Images", IMAGE_CASES);
section("Archives", ARCHIVE_CASES);
section("Requests", [...REQUEST_CASES, ...REQUEST_STREAM_CASES]);
console.log(`\n## CLI\n`);
console.log("| ID | Input | Stopped at | Expected | Problem code | Checked beyond the common checks |");
console.log("|---|---|---|---|---|---|");
for (const c of CLI_CASES) console.log(`| ${c.id} | \`sslmem audit\` ${md(c.input)} | CLI (local engine) | exit 1 | \`${c.code}\` | one stderr line \`error [${c.code}]: …\`, empty stdout, no stack |`);
