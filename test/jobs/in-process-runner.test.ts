import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createHash } from "node:crypto";
import { pino, type Logger } from "pino";
import { SslmemError } from "../../src/core/errors.ts";
import { InProcessRunner } from "../../src/jobs/in-process-runner.ts";
import type { AuditExecutor } from "../../src/jobs/types.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { Gate, TestExecutor, reportWithoutPoints, type TestExecutorOptions } from "./test-executor.ts";
import { AuditService } from "../../src/audits/audit-service.ts";
import { pollUntil } from "../helpers/poll.ts";

const digest = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

interface World {
  dir: string;
  store: SqliteStore;
  logs: string[];
  logger: Logger;
  runners: InProcessRunner[];
  runner(executor: AuditExecutor): InProcessRunner;
  executor(options?: TestExecutorOptions): TestExecutor;
  audit(tag?: string): Promise<string>;
  reopen(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  await pollUntil(check, { what: "the runner's condition" });
}

const stateOf = async (w: World, id: string) => (await w.store.getAuditInternal(id))?.state;

describe("InProcessRunner", () => {
  let w: World;
  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-runner-"));
    const logs: string[] = [];
    const logger = pino({ level: "debug" }, new Writable({ write: (c: Buffer, _e, done) => (logs.push(c.toString()), done()) }));
    const path = join(dir, "sslmem.db");
    let n = 0;
    w = {
      dir,
      store: await SqliteStore.open({ path, synchronous: "NORMAL" }),
      logs,
      logger,
      runners: [],
      runner(executor) {
        const audits = new AuditService({ store: this.store, logger });
        const r = new InProcessRunner({ audits, store: this.store, executor, logger, cancelWaitMs: 5000 });
        this.runners.push(r);
        return r;
      },
      executor(options) {
        return new TestExecutor(this.store, options);
      },
      async audit(tag = `a${n++}`) {
        for (const role of ["t", "r", "c"]) await this.store.recordBlob({ tenant: "alice", digest: digest(role + tag), size: 1 });
        const { audit } = await this.store.createAudit({
          tenant: "alice",
          config: {},
          inputs: { target: digest("t" + tag), reference: digest("r" + tag), candidates: digest("c" + tag) },
        });
        return audit.id;
      },
      async reopen() {
        await this.store.close();
        this.store = await SqliteStore.open({ path, synchronous: "NORMAL" });
      },
    };
  });
  afterEach(async () => {
    for (const r of w.runners) await r.stop({ graceMs: 1000 });
    await w.store.close();
    rmSync(w.dir, { recursive: true, force: true });
  });

  it("runs one audit at a time in FIFO order", async () => {
    const gate = new Gate();
    const [a, b, c] = [await w.audit(), await w.audit(), await w.audit()];
    const executor = w.executor({ gates: new Map([[a, { gate }]]) });
    const runner = w.runner(executor);
    await runner.start(); // picks up the three queued audits from the store
    await gate.reached;
    assert.deepEqual(executor.started, [a]);
    assert.equal(runner.queueDepth(), 2);
    assert.equal(await stateOf(w, b), "queued");
    gate.open();
    await waitFor(async () => (await stateOf(w, c)) === "succeeded");
    assert.deepEqual(executor.started, [a, b, c]);
    assert.equal(runner.throughput().pointsScoredTotal, 30);
    const audit = await w.store.getAuditInternal(a);
    assert.deepEqual(audit?.summary, { points: 10, flagged: 3 });
    assert.deepEqual(audit?.report, reportWithoutPoints(a));
  });

  it("fails an audit with its own code and message, or with a generic engine_failure, and keeps going", async () => {
    const [user, crash, next] = [await w.audit(), await w.audit(), await w.audit()];
    const leaky = new Error("segfault in /opt/secret/libonnxruntime.so");
    const executor = w.executor({
      failures: new Map<string, Error>([
        [user, new SslmemError("model_invalid", "the target model is not an ONNX file")],
        [crash, leaky],
      ]),
    });
    const runner = w.runner(executor);
    await runner.start();
    await waitFor(async () => (await stateOf(w, next)) === "succeeded");
    assert.deepEqual((await w.store.getAuditInternal(user))?.error, {
      type: "https://sslmem.dev/problems/model_invalid",
      title: "Unprocessable Content",
      status: 422,
      code: "model_invalid",
      detail: "the target model is not an ONNX file",
    });
    const failed = await w.store.getAuditInternal(crash);
    assert.equal(failed?.state, "failed");
    assert.equal(failed?.error?.code, "engine_failure");
    assert.equal(failed?.error?.status, 500);
    assert.equal(JSON.stringify(failed?.error).includes("secret"), false);
    assert.match(String(failed?.error?.detail), new RegExp(`server log .* audit ${crash}`));
    assert.ok(w.logs.some((l) => l.includes("libonnxruntime.so") && l.includes(crash)), "the details are in the log");
    const events = await w.store.readEvents(crash, 0);
    assert.deepEqual(events.at(-1)?.data, { state: "failed", error: failed?.error });
    assert.equal(runner.isAlive(), true);
  });

  it("cancels a queued audit at once and a running one through its abort signal", async () => {
    const gate = new Gate();
    const [a, b] = [await w.audit(), await w.audit()];
    const executor = w.executor({ gates: new Map([[a, { gate, atIndex: 4 }]]) });
    const runner = w.runner(executor);
    await runner.start();
    await gate.reached;
    assert.equal(await runner.cancel(b), true);
    assert.equal(await stateOf(w, b), "cancelled");
    assert.equal(await runner.cancel(a), true);
    assert.equal(await stateOf(w, a), "cancelled");
    assert.deepEqual(executor.started, [a]);
    assert.equal(await runner.cancel(a), false, "a finished audit cannot be cancelled");
    assert.equal(await w.store.countResults(a), 4, "the committed batch stays; nothing is finalized");
    const types = (await w.store.readEvents(a, 0)).map((e) => `${e.type}:${String(e.data.state ?? e.data.done)}`);
    assert.deepEqual(types, ["state:running", "progress:4", "state:cancelled"]);
  });

  it("resumes `running` and `queued` audits at start, oldest first", async () => {
    const [crashed, waiting] = [await w.audit(), await w.audit()];
    // A previous process took `crashed` and died with its first batch committed.
    assert.ok(await w.store.transition(crashed, ["queued"], "running"));
    await w.store.appendResults(crashed, [0, 1, 2, 3].map((i) => ({ index: i, id: `img/${String(i).padStart(4, "0")}.png`, role: "candidate" as const, alignTarget: 0.5, alignReference: 0.5, score: 0, stdErr: 0, pairs: 4 })));
    await w.reopen();
    const executor = w.executor();
    const runner = w.runner(executor);
    await runner.start();
    await waitFor(async () => (await stateOf(w, waiting)) === "succeeded");
    assert.deepEqual(executor.started, [crashed, waiting]);
    const resumed = await w.store.getAuditInternal(crashed);
    assert.equal(resumed?.state, "succeeded");
    assert.equal(resumed?.attempt, 2);
    assert.equal(await w.store.countResults(crashed), 10);
    const first = (await w.store.readEvents(crashed, 0))[0];
    assert.deepEqual(first.data, { state: "queued", reason: "resumed after a restart" });
  });

  it("stop() puts the running audit back in the queue; the next runner finishes it without redoing committed batches", async () => {
    const gate = new Gate();
    const a = await w.audit();
    const b = await w.audit();
    const first = w.executor({ gates: new Map([[a, { gate, atIndex: 8 }]]) });
    const runner = w.runner(first);
    await runner.start();
    await gate.reached;
    await runner.stop({ graceMs: 5000 });
    assert.equal(runner.isAlive(), false);
    assert.equal(await stateOf(w, a), "queued");
    assert.equal(await stateOf(w, b), "queued");
    assert.equal(await w.store.countResults(a), 8);
    await assert.rejects(runner.enqueue(b), (e: unknown) => e instanceof SslmemError && e.code === "unavailable");

    await w.reopen();
    let appended = 0;
    const second = w.executor();
    const counting = w.runner({
      execute: async (audit, ctx) => {
        const before = await w.store.countResults(audit.id);
        const out = await second.execute(audit, ctx);
        appended += (await w.store.countResults(audit.id)) - before;
        return out;
      },
    });
    await counting.start();
    await waitFor(async () => (await stateOf(w, b)) === "succeeded");
    assert.equal(await stateOf(w, a), "succeeded");
    assert.equal(await w.store.countResults(a), 10);
    assert.equal(appended, 2 + 10, "a resumed with 2 new rows, b with all 10");
  });

  it("stops a running audit that another writer cancelled (an operator, another process) at its next batch", async () => {
    const gate = new Gate();
    const a = await w.audit();
    const b = await w.audit();
    const executor = w.executor({ gates: new Map([[a, { gate, atIndex: 4 }]]) });
    await w.runner(executor).start();
    await gate.reached;
    // `sslmem admin audits cancel` in another process: its own AuditService on the same file.
    const other = await SqliteStore.open({ path: join(w.dir, "sslmem.db"), synchronous: "NORMAL" });
    try {
      assert.equal(await new AuditService({ store: other, logger: w.logger }).cancel(a, ["running"]), true);
    } finally {
      await other.close();
    }
    gate.open();
    await waitFor(async () => (await stateOf(w, b)) === "succeeded");
    assert.equal(await stateOf(w, a), "cancelled");
    assert.ok((await w.store.countResults(a)) <= 8, "a stopped after the batch in flight, not at the end");
    const states = (await w.store.readEvents(a, 0)).filter((e) => e.type === "state").map((e) => e.data.state);
    assert.deepEqual(states, ["running", "cancelled"], "one cancelled event, no later state");
  });

  it("fails an audit with crash_loop once processes died running it SSLMEM_MAX_AUDIT_CRASHES times; the rest of the queue runs", async () => {
    const a = await w.audit();
    /** A process that takes `a` and dies while its engine runs: the runner is abandoned, never stopped. */
    const dieWhileRunning = async () => {
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const doomed = w.runner({
        execute: () => {
          entered();
          return new Promise(() => undefined);
        },
      });
      await doomed.start();
      await inside;
      await w.reopen();
    };
    await dieWhileRunning();
    let audit = await w.store.getAuditInternal(a);
    assert.deepEqual([audit?.state, audit?.attempt, audit?.crashes], ["running", 1, 0], "the attempt is stored before the engine runs");
    await dieWhileRunning(); // the restart resumes it (one crash counted), and the process dies again
    audit = await w.store.getAuditInternal(a);
    assert.deepEqual([audit?.state, audit?.attempt, audit?.crashes], ["running", 2, 1]);

    const b = await w.audit();
    const executor = w.executor();
    await w.runner(executor).start();
    await waitFor(async () => (await stateOf(w, b)) === "succeeded");
    audit = await w.store.getAuditInternal(a);
    assert.equal(audit?.state, "failed");
    assert.equal(audit?.crashes, 2);
    assert.equal(audit?.error?.code, "crash_loop");
    assert.equal(audit?.error?.status, 422);
    assert.deepEqual(executor.started, [b], "the crash-looping audit is not started again");
    const events = await w.store.readEvents(a, 0);
    assert.deepEqual(events.at(-1)?.data.state, "failed", "its last event says so");
  });

  it("leaves an audit `running` when its executor ignores the abort; the next start resumes it", async () => {
    const a = await w.audit();
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const stubborn = w.runner({
      execute: () => {
        entered();
        return new Promise(() => undefined); // never settles, ignores the signal
      },
    });
    await stubborn.start();
    await inside;
    await stubborn.stop({ graceMs: 20 });
    assert.equal(await stateOf(w, a), "running");
    assert.ok(w.logs.some((l) => l.includes("did not stop within the grace period")));
    const next = w.runner(w.executor());
    await next.start();
    await waitFor(async () => (await stateOf(w, a)) === "succeeded");
  });
});
