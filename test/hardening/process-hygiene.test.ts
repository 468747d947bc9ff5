/**
 * Issue 13, process hygiene (CASES.md, "Budgets"): one process per data directory, and the
 * scratch files a killed run left behind removed at the next start. Through the real binary.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSslmem } from "../helpers/scaled-processes.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function env(dir: string): Record<string, string> {
  return { SSLMEM_DATA_DIR: dir, SSLMEM_PORT: "0", SSLMEM_AUTH: "disabled", SSLMEM_PROVIDERS: "cpu", SSLMEM_LOG_LEVEL: "warn" };
}

/** Runs `sslmem serve` to its exit (it must exit on its own); returns its code and output. */
function serveToExit(dir: string, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/sslmem.js`, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env(dir) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the second server did not exit in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe("issue 13: process hygiene", () => {
  it("B07 a second `sslmem serve` on the same data directory exits non-zero with a clear message; the first keeps serving", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-lock-"));
    const first = await spawnSslmem("serve", env(dir));
    try {
      const second = await serveToExit(dir);
      assert.notEqual(second.code, 0, second.output);
      assert.match(second.output, /data directory .* is in use by another sslmem process/);
      assert.doesNotMatch(second.output, /    at /, "no stack trace");
      assert.equal((await fetch(`${first.url}/readyz`)).status, 200, "the first server is unaffected");
      // Once the first is gone (even by SIGKILL: the kernel drops its lock), the directory is free.
      await first.kill("SIGKILL");
      const third = await spawnSslmem("serve", env(dir));
      assert.equal((await fetch(`${third.url}/readyz`)).status, 200);
      await third.kill("SIGTERM");
    } finally {
      await first.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("B08 expanded archives in the engine's tmp and torn `.part` uploads (even fresh ones) are removed at start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-scratch-"));
    const expanded = join(dir, "tmp", "sslmem-targz-left");
    mkdirSync(expanded, { recursive: true });
    writeFileSync(join(expanded, "img.png"), Buffer.alloc(4096, 1));
    mkdirSync(join(dir, "blobs", "tmp"), { recursive: true });
    const part = join(dir, "blobs", "tmp", "torn.part");
    writeFileSync(part, Buffer.alloc(4096, 2));
    const now = new Date();
    utimesSync(part, now, now);
    const server = await spawnSslmem("serve", env(dir));
    try {
      assert.deepEqual(readdirSync(join(dir, "tmp")), [], "the expanded archive is gone");
      assert.ok(!existsSync(part), "the fresh .part is gone");
    } finally {
      await server.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
