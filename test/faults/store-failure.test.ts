/**
 * The disk fills up while an audit runs: the store refuses to append results (SQLITE_FULL, as
 * SqliteStore reports it: `store_failure` with the driver error as cause). The audit fails
 * cleanly with a generic 5xx problem, the service stays up and says it is not ready while the
 * store cannot write, and once space is back the next audit runs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SslmemError } from "../../src/core/errors.ts";
import type { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";

interface Disk {
  /** appendResults calls that succeed before the disk is full. */
  appendsLeft: number;
  full: boolean;
}

function sqliteFull(operation: string): SslmemError {
  const cause = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
  return new SslmemError("store_failure", `the store could not ${operation}`, undefined, { cause });
}

/** The real store, except that results and the health probe fail once the disk is "full". */
function fillingDisk(store: SqliteStore, disk: Disk): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "appendResults") {
        return async (...args: Parameters<Store["appendResults"]>) => {
          if (!disk.full && disk.appendsLeft-- <= 0) disk.full = true;
          if (disk.full) throw sqliteFull("append results");
          return target.appendResults(...args);
        };
      }
      if (prop === "healthCheck") {
        return async () => {
          if (disk.full) throw sqliteFull("pass its health check");
          return target.healthCheck();
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as Store;
}

describe("store write failure during an audit (disk full)", () => {
  it("fails the audit with a generic store_failure, reports not-ready while full, and runs the next audit once space is back", async () => {
    const disk: Disk = { appendsLeft: 2, full: false };
    const s = await startEngineServer({ wrapStore: (store) => fillingDisk(store, disk) });
    try {
      const pair = tinyEncoderPair();
      const inputs = await uploadAuditInputs(s.alice, { ...pair, candidates: randomNpy(10, 16, 1) });
      const submitted = await s.alice.submit({ ...inputs, config: { views: 2, batchSize: 2 } });
      assert.equal(submitted.status, 202);
      const failed = await s.alice.waitFor(submitted.body.id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.error?.code, "store_failure");
      assert.equal(failed.error?.status, 500);
      assert.doesNotMatch(JSON.stringify(failed.error), /SQLITE|disk is full|sslmem\.db|\/tmp\//, "no driver message or path in the problem");
      // Two batches were stored before the disk filled: the memory budget's probe batches, of 1 and 2 points.
      assert.equal(await s.store.countResults(submitted.body.id), 3, "two batches were stored before the disk filled");
      const line = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.auditId === submitted.body.id && l.msg === "audit failed in the engine");
      assert.match(JSON.stringify(line?.err), /SQLITE_FULL|disk is full/, "the log has the cause");

      // Still up: liveness passes, reads work, readiness tells the truth about the store.
      assert.equal((await s.anonymous.request("/livez")).status, 200);
      assert.equal((await s.alice.json(`/v1/audits/${submitted.body.id}`)).status, 200);
      const notReady = await s.anonymous.json<{ status: string; checks: { name: string; status: string; detail?: string }[] }>("/readyz");
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body.checks.find((c) => c.name === "store")?.status, "fail");
      assert.doesNotMatch(JSON.stringify(notReady.body), /SQLITE|disk is full/);

      // Space is freed: ready again, and the next audit runs to the end.
      disk.full = false;
      disk.appendsLeft = Number.POSITIVE_INFINITY;
      assert.equal((await s.anonymous.request("/readyz")).status, 200);
      const again = await s.alice.submit({ ...inputs, config: { views: 2, batchSize: 2, seed: 1 } });
      assert.equal(again.status, 202);
      const done = await s.alice.waitFor(again.body.id);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      assert.equal(await s.store.countResults(again.body.id), 10);
    } finally {
      await s.close();
    }
  });
});
