import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pino } from "pino";
import { RetentionSweeper } from "../../src/jobs/retention.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";

const HOUR = 3_600_000;

describe("RetentionSweeper", () => {
  it("purges candidate and control blobs of audits finished more than N hours ago; keeps models, results and newer audits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-retention-"));
    const clock = { now: Date.UTC(2025, 0, 1) };
    const store = await SqliteStore.open({ path: join(dir, "db.sqlite"), now: () => clock.now, synchronous: "NORMAL" });
    const blobs = await FileBlobStore.open(join(dir, "blobs"));
    try {
      const put = async (text: string) => {
        const { digest, size } = await blobs.put(Readable.from([Buffer.from(text)]), { maxBytes: 1024 });
        await store.recordBlob({ tenant: "alice", digest, size });
        return digest;
      };
      const target = await put("model-t");
      const reference = await put("model-r");
      const oldCandidates = await put("old candidates");
      const controls = await put("controls");
      const newCandidates = await put("new candidates");

      const finish = async (candidates: string, withControls: boolean) => {
        const { audit } = await store.createAudit({
          tenant: "alice",
          config: {},
          inputs: { target, reference, candidates, ...(withControls ? { controls } : {}) },
        });
        await store.transition(audit.id, ["queued"], "running");
        await store.appendResults(audit.id, [{ index: 0, id: "a.png", role: "candidate", alignTarget: 1, alignReference: 2, score: 1, stdErr: 0, pairs: 1 }]);
        await store.transition(audit.id, ["running"], "succeeded", { summary: {}, report: {} });
        return audit.id;
      };
      const old = await finish(oldCandidates, true);
      clock.now += 30 * HOUR;
      const recent = await finish(newCandidates, false);
      clock.now += 2 * HOUR;

      const sweeper = new RetentionSweeper({ store, blobs, logger: pino({ level: "silent" }), hours: 24, intervalMs: HOUR });
      assert.equal(await sweeper.sweep(), 1);
      assert.equal(await blobs.has(oldCandidates), false, "candidate bytes deleted");
      assert.equal(await blobs.has(controls), false, "control bytes deleted");
      assert.equal(await store.tenantHasBlob("alice", oldCandidates), false);
      assert.equal(await blobs.has(newCandidates), true, "a recent audit keeps its inputs");
      assert.equal(await blobs.has(target), true, "models are kept");
      assert.equal(await blobs.has(reference), true);
      const purged = await store.getAuditInternal(old);
      assert.notEqual(purged?.inputsPurgedAt, null);
      assert.equal(await store.countResults(old), 1, "results stay");
      assert.equal((await store.getAuditInternal(recent))?.inputsPurgedAt, null);
      assert.equal(await sweeper.sweep(), 0, "nothing left to purge");

      const off = new RetentionSweeper({ store, blobs, logger: pino({ level: "silent" }), hours: 0, intervalMs: HOUR });
      clock.now += 100 * HOUR;
      assert.equal(await off.sweep(), 0, "hours = 0 disables retention");
      assert.equal(await blobs.has(newCandidates), true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
