import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { pino } from "pino";
import { loadConfig } from "../../src/config.ts";
import { startServer } from "../../src/server.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { TestExecutor } from "../jobs/test-executor.ts";
import { digestOf } from "./harness.ts";
import { pollUntil } from "../helpers/poll.ts";

async function upload(url: string, text: string): Promise<string> {
  const digest = digestOf(text);
  const res = await fetch(`${url}/v1/blobs/${digest}`, { method: "PUT", body: text });
  assert.equal(res.status, 201);
  await res.body?.cancel();
  return digest;
}

describe("startServer", () => {
  it("serves the API on the data directory, warns when auth is disabled, and closes cleanly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-server-"));
    const logs: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(c.toString()), done()) }));
    try {
      const config = loadConfig({ SSLMEM_DATA_DIR: dir, SSLMEM_PORT: "0", SSLMEM_AUTH: "disabled" });
      const server = await startServer(config, { executor: ({ store }) => new TestExecutor(store), logger, handleSignals: false });
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(logs.some((l) => l.includes("authentication is DISABLED")));
      const inputs = { target: await upload(server.url, "t"), reference: await upload(server.url, "r"), candidates: await upload(server.url, "c") };
      const res = await fetch(`${server.url}/v1/audits`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(inputs) });
      assert.equal(res.status, 202);
      const { id } = (await res.json()) as { id: string };
      await pollUntil(async () => (await server.store.getAuditInternal(id))?.state === "succeeded", { what: "the audit to succeed" }).catch(() => undefined);
      assert.equal((await server.store.getAuditInternal(id))?.state, "succeeded");
      await server.close();
      await server.close(); // idempotent
      await assert.rejects(fetch(`${server.url}/livez`));
      const reopened = await SqliteStore.open({ path: join(dir, "sslmem.db") });
      assert.equal((await reopened.getAuditInternal(id))?.state, "succeeded");
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("shuts down on SIGTERM: ends event streams, checkpoints the running audit back to the queue, exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-sigterm-"));
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./fixtures/serve-child.ts", import.meta.url))], {
      env: { ...process.env, SSLMEM_DATA_DIR: dir, SSLMEM_PORT: "0", SSLMEM_AUTH: "disabled", SSLMEM_SHUTDOWN_GRACE_MS: "5000" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      const lines: Record<string, unknown>[] = [];
      let out = "";
      const listening = new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          let nl;
          while ((nl = out.indexOf("\n")) >= 0) {
            const line = JSON.parse(out.slice(0, nl)) as Record<string, unknown>;
            out = out.slice(nl + 1);
            lines.push(line);
            if (line.msg === "sslmem listening") resolve(String(line.url));
          }
        });
        child.once("exit", () => reject(new Error("the server exited before listening")));
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const url = await listening;
      const inputs = { target: await upload(url, "t"), reference: await upload(url, "r"), candidates: await upload(url, "c") };
      const res = await fetch(`${url}/v1/audits`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(inputs) });
      const { id } = (await res.json()) as { id: string };
      await pollUntil(async () => ((await (await fetch(`${url}/v1/audits/${id}`)).json()) as { state: string }).state === "running", {
        what: "the audit to run",
      }).catch(() => undefined);
      const events = await fetch(`${url}/v1/audits/${id}/events`);
      const streamed = events.text();
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const text = await streamed; // the stream ended instead of holding the server open
      assert.match(text, /"state":"running"/);
      assert.ok(lines.some((l) => l.msg === "stopped"));
      const store = await SqliteStore.open({ path: join(dir, "sslmem.db") });
      try {
        assert.equal((await store.getAuditInternal(id))?.state, "queued");
        const last = (await store.readEvents(id, 0)).at(-1);
        assert.deepEqual(last?.data, { state: "queued", reason: "the service is restarting" });
        assert.deepEqual(await store.integrityCheck(), ["ok"]);
      } finally {
        await store.close();
      }
    } finally {
      clearTimeout(killer);
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
