#!/usr/bin/env node
// Entry point of the `sslmem` command. It runs the compiled JavaScript in dist/ (built from src/
// by `npm run build`, which `npm ci` runs through the `prepare` script), so no TypeScript loader
// is part of a run: start-up stays fast and the address space small (see README, "Benchmarks").
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/", import.meta.url);
if (!existsSync(new URL("cli/main.js", dist))) {
  process.stderr.write("error: dist/ is missing; run `npm run build` (or `npm ci`) first\n");
  process.exit(1);
}
const args = process.argv.slice(2);
// Commands that run the engine here start again with its allocator settings, which glibc reads
// only at process start (src/process/engine-allocator.ts).
const { relaunchWithEngineAllocator, followLauncher } = await import(new URL("process/engine-allocator.js", dist).href);
const relaunched = relaunchWithEngineAllocator(args, fileURLToPath(import.meta.url));
if (relaunched) {
  const { code, signal } = await relaunched;
  if (signal) process.kill(process.pid, signal);
  process.exitCode = code ?? 1;
} else {
  followLauncher();
  const { main } = await import(new URL("cli/main.js", dist).href);
  process.exitCode = await main(args);
}
