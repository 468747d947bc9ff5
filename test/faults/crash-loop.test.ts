/**
 * Crash-loop protection on a real `sslmem serve` process with the real engine: an audit that is
 * running each time the process dies (SIGKILL here, standing in for the out-of-memory killer) is
 * resumed after the first death and failed with `crash_loop` after SSLMEM_MAX_AUDIT_CRASHES (2)
 * instead of taking the server down again; the audit queued behind it runs. Operators see and
 * act on audits of any tenant with `sslmem admin audits list|cancel|fail`, through the binary.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { createTokenIn, spawnServe, type ServeProcess } from "../helpers/serve-process.ts";
import { ServiceClient } from "../helpers/service-client.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function admin(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/sslmem.js"), "admin", ...args, "--data-dir", dir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("crash loop", () => {
  it("fails an audit with crash_loop after the process died twice running it; the queue behind it runs; admin lists, cancels and fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-crashloop-"));
    const token = await createTokenIn(dir, "alice");
    let server: ServeProcess = await spawnServe(dir);
    try {
      let client = new ServiceClient(server.url, token);
      const pair = tinyEncoderPair();
      const target = await client.putBlob(pair.target);
      const reference = await client.putBlob(pair.reference);
      const doomed = await client.submit({ target, reference, candidates: await client.putBlob(randomNpy(400, 16, 1)), config: { views: 4, batchSize: 2 } });
      const behind = await client.submit({ target, reference, candidates: await client.putBlob(randomNpy(5, 16, 2)), config: { views: 2 } });
      assert.deepEqual([doomed.status, behind.status], [202, 202]);
      const measuring = (a: { state: string; progress?: { stage: string; done: number } | null }) =>
        a.state === "running" && a.progress?.stage === "measuring" && a.progress.done >= 2;

      // Death 1: the restart resumes the audit (attempt 2).
      await client.waitFor(doomed.body.id, measuring, 5);
      assert.equal((await server.kill("SIGKILL")).signal, "SIGKILL");
      server = await spawnServe(dir);
      client = new ServiceClient(server.url, token);
      const resumed = await client.waitFor(doomed.body.id, measuring, 5);
      assert.equal(resumed.attempt, 2, "resumed after the first death");

      // Death 2: the next start fails it instead of running it a third time.
      assert.equal((await server.kill("SIGKILL")).signal, "SIGKILL");
      const listed = admin(dir, "audits", "list", "--state", "running,queued");
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${doomed.body.id}\\talice\\trunning\\tattempt=2\\tcrashes=1\\t`, "m"), "the operator sees it running, one crash counted");
      server = await spawnServe(dir);
      client = new ServiceClient(server.url, token);
      const failed = await client.waitFor(doomed.body.id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "crash_loop");
      assert.equal(failed.error?.status, 422);
      assert.match(String(failed.error?.detail), /stopped 2 times while this audit was running/);
      assert.equal((await client.waitFor(behind.body.id)).state, "succeeded", "the audit behind it runs");
      assert.ok(server.output.join("").includes('"code":"crash_loop"'), "the log names the code");
      assert.equal((await server.kill("SIGTERM")).code, 0);

      // Operators: cancel and fail audits of any tenant while no server runs.
      const toCancel = (await createQueued(dir, target, reference)).id;
      const toFail = (await createQueued(dir, target, reference)).id;
      const cancel = admin(dir, "audits", "cancel", toCancel);
      assert.equal(cancel.status, 0, cancel.stderr);
      const fail = admin(dir, "audits", "fail", toFail, "--reason", "bad inputs");
      assert.equal(fail.status, 0, fail.stderr);
      assert.equal(admin(dir, "audits", "cancel", toCancel).status, 1, "a finished audit cannot be cancelled again");
      assert.equal(admin(dir, "audits", "frobnicate").status, 1, "an unknown action is a usage error");
      const all = admin(dir, "audits", "list", "--state", "cancelled,failed").stdout;
      assert.match(all, new RegExp(`^${toCancel}\\talice\\tcancelled\\t`, "m"));
      assert.match(all, new RegExp(`^${toFail}\\talice\\tfailed\\t.*\\tfailed_by_operator$`, "m"));
      assert.match(all, new RegExp(`^${doomed.body.id}\\talice\\tfailed\\tattempt=2\\tcrashes=2\\t.*\\tcrash_loop$`, "m"));
    } finally {
      await server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A queued audit of alice's, created through the store as the API would (its blobs are hers). */
async function createQueued(dir: string, target: string, reference: string) {
  const { SqliteStore } = await import("../../src/store/sqlite-store.ts");
  const { AuditService } = await import("../../src/audits/audit-service.ts");
  const { pino } = await import("pino");
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db") });
  try {
    const audits = new AuditService({ store, logger: pino({ level: "silent" }) });
    return (await audits.create({ tenant: "alice", config: {}, inputs: { target, reference, candidates: target } })).audit;
  } finally {
    await store.close();
  }
}
