/**
 * A handful of hostile inputs through the CLI (cases/cli.ts), each in its own `sslmem audit`
 * process: exit 1, exactly one line on stderr naming the code, nothing on stdout, no stack.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI_CASES } from "./cases/cli.ts";

describe("hostile inputs through the CLI", () => {
  const bin = new URL("../../bin/sslmem.js", import.meta.url).pathname;
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, "audit", ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });

  test(`${CLI_CASES.length} cases: exit 1, one line on stderr with the code, no stack`, async () => {
    const dirs = CLI_CASES.map(() => mkdtempSync(join(tmpdir(), "sslmem-hardening-cli-")));
    try {
      // Three at a time: each is a fresh Node process, and module loading dominates.
      const results: Awaited<ReturnType<typeof run>>[] = [];
      for (let i = 0; i < CLI_CASES.length; i += 3) {
        results.push(...(await Promise.all(CLI_CASES.slice(i, i + 3).map((c, k) => run(c.prepare(dirs[i + k]))))));
      }
      CLI_CASES.forEach((c, i) => {
        const r = results[i];
        const label = `${c.id} ${c.input}`;
        assert.equal(r.code, 1, `${label}: exit code (stderr ${r.stderr})`);
        assert.equal(r.stdout, "", `${label}: nothing on stdout`);
        const lines = r.stderr.split("\n").filter((l) => l !== "");
        assert.equal(lines.length, 1, `${label}: one line on stderr: ${r.stderr}`);
        assert.ok(lines[0].startsWith(`error [${c.code}]: `), `${label}: ${lines[0]}`);
        assert.ok(!r.stderr.includes("    at ") && !r.stderr.includes("node_modules"), `${label}: no stack`);
      });
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
