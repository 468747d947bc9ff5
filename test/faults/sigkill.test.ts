/**
 * SIGKILL of a real `sslmem serve` process in the middle of an audit on the real engine (no
 * graceful shutdown, no checkpoint): after a restart on the same data directory every accepted
 * audit completes (or fails with a reason), the audit that was cut resumes from its committed
 * batches without duplicating a point, the results of audits finished before the kill are
 * byte-identical, and SQLite's integrity check passes before and after.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { createTokenIn, spawnServe } from "../helpers/serve-process.ts";
import { ServiceClient, TERMINAL, type AuditView } from "../helpers/service-client.ts";

function inspectDatabase(dir: string, auditId: string): { integrity: string[]; results: number; distinct: number } {
  // Read-write: opening replays the WAL the killed process left, as the next server would.
  const db = new Database(join(dir, "sslmem.db"));
  try {
    const integrity = (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check);
    const { n, d } = db.prepare("SELECT count(*) AS n, count(DISTINCT idx) AS d FROM audit_results WHERE audit_id = ?").get(auditId) as { n: number; d: number };
    return { integrity, results: n, distinct: d };
  } finally {
    db.close();
  }
}

async function bytesOf(client: ServiceClient, path: string): Promise<string> {
  const res = await client.request(path);
  assert.equal(res.status, 200, path);
  return res.text();
}

describe("SIGKILL during an audit", () => {
  it("resumes after restart: nothing accepted is lost, finished results unchanged, database intact", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sslmem-kill-"));
    const token = await createTokenIn(dir, "alice");
    const points = 120;
    let server = await spawnServe(dir);
    try {
      let client = new ServiceClient(server.url, token);
      const pair = tinyEncoderPair();
      const target = await client.putBlob(pair.target);
      const reference = await client.putBlob(pair.reference);

      const finished = await client.submit({ target, reference, candidates: await client.putBlob(randomNpy(6, 16, 1)), config: { views: 2, batchSize: 2 } });
      assert.equal((await client.waitFor(finished.body.id)).state, "succeeded");
      const id = finished.body.id;
      const before = {
        audit: await bytesOf(client, `/v1/audits/${id}`),
        report: await bytesOf(client, `/v1/audits/${id}/report?format=json`),
        ndjson: await bytesOf(client, `/v1/audits/${id}/results?format=ndjson`),
        csv: await bytesOf(client, `/v1/audits/${id}/results?format=csv`),
      };

      const longCandidates = await client.putBlob(randomNpy(points, 16, 2));
      const long = await client.submit(
        { target, reference, candidates: longCandidates, config: { views: 4, batchSize: 2 } },
        { "idempotency-key": "long-audit" },
      );
      const queued = await client.submit({ target, reference, candidates: await client.putBlob(randomNpy(5, 16, 3)), config: { views: 2 } });
      assert.deepEqual([long.status, queued.status], [202, 202]);
      await client.waitFor(long.body.id, (a) => a.state === "running" && (a.progress?.stage === "measuring" ? a.progress.done >= 4 : false), 5);

      const exit = await server.kill("SIGKILL");
      assert.equal(exit.signal, "SIGKILL");
      const cut = inspectDatabase(dir, long.body.id);
      assert.deepEqual(cut.integrity, ["ok"], "integrity right after the kill");
      assert.ok(cut.results >= 4 && cut.results < points, `killed mid-way (${cut.results}/${points} points committed)`);

      server = await spawnServe(dir);
      client = new ServiceClient(server.url, token);
      const resumed = await client.waitFor(long.body.id);
      assert.equal(resumed.state, "succeeded", JSON.stringify(resumed.error));
      assert.equal(resumed.attempt, 2, "resumed, not restarted from scratch in a new audit");
      assert.equal((await client.waitFor(queued.body.id)).state, "succeeded");
      const replay = await client.submit(
        { target, reference, candidates: longCandidates, config: { views: 4, batchSize: 2 } },
        { "idempotency-key": "long-audit" },
      );
      assert.equal(replay.body.id, long.body.id, "the idempotency key still names the same audit");

      // Every accepted audit is terminal, failed ones with a reason; nothing duplicated.
      const list = await client.json<{ items: AuditView[] }>("/v1/audits?limit=100");
      assert.equal(list.body.items.length, 3);
      for (const a of list.body.items) {
        assert.ok(TERMINAL.includes(a.state), `${a.id} is ${a.state}`);
        if (a.state === "failed") assert.ok(a.error?.code, "a failed audit has a reason");
      }
      const after = inspectDatabase(dir, long.body.id);
      assert.deepEqual([after.results, after.distinct], [points, points], "every point once");
      const results = await client.json<{ items: { index: number }[] }>(`/v1/audits/${long.body.id}/results?limit=1000`);
      assert.deepEqual(results.body.items.map((r) => r.index), Array.from({ length: points }, (_, i) => i));

      assert.equal(await bytesOf(client, `/v1/audits/${id}`), before.audit, "finished audit resource unchanged");
      assert.equal(await bytesOf(client, `/v1/audits/${id}/report?format=json`), before.report, "report byte-identical");
      assert.equal(await bytesOf(client, `/v1/audits/${id}/results?format=ndjson`), before.ndjson, "results byte-identical");
      assert.equal(await bytesOf(client, `/v1/audits/${id}/results?format=csv`), before.csv, "csv byte-identical");

      assert.deepEqual((await server.kill("SIGTERM")).code, 0, "graceful stop exits 0");
      assert.deepEqual(inspectDatabase(dir, long.body.id).integrity, ["ok"], "integrity after the restart");
    } finally {
      await server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
