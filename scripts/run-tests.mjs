#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner. Node 20 does not expand globs for
// --test, so the file list is built here. Extra arguments are passed through (e.g. a file filter).
// Tests import the TypeScript sources through tsx, and the ones that spawn `sslmem` run bin/sslmem.js,
// which runs dist/: dist/ is rebuilt first (a few seconds) so both see the same code.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("-"));
let files = walk(join(root, "test"));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const build = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { stdio: "inherit", cwd: root });
if (build.status !== 0) {
  console.error("npm run build failed; the tests that run bin/sslmem.js need dist/");
  process.exit(build.status ?? 1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...flags, ...files], {
  stdio: "inherit",
  cwd: root,
  env: { ...process.env, NODE_ENV: "test" },
});
process.exit(r.status ?? 1);
