#!/usr/bin/env node
// Entry point of the `sslmem` command. It runs the compiled JavaScript in dist/ (built from src/
// by `npm run build`, which `npm ci` runs through the `prepare` script), so no TypeScript loader
// is part of a run: start-up stays fast and the address space small (see README, "Benchmarks").
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("error: dist/ is missing; run `npm run build` (or `npm ci`) first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
