/**
 * Purge really deletes: after DELETE /v1/audits/{id} the candidate archive is gone from the blob
 * directory, the audit's results are gone from SQLite, and the point ids (file names, which can
 * be sensitive) are no longer anywhere in the database files' raw bytes — not in free pages
 * (secure_delete) and not in old WAL frames.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pngTar, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";

const CANARY = "purge-canary-7f3a9c";

/** Every file of the database (main file, WAL, shared memory) as one buffer. */
function databaseBytes(dir: string): Buffer {
  const files = readdirSync(dir).filter((f) => f.startsWith("sslmem.db"));
  return Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe("purge (DELETE /v1/audits/{id})", () => {
  it("removes the candidate files from disk and every trace of the points from the SQLite files", async () => {
    const s = await startEngineServer();
    try {
      const names = Array.from({ length: 6 }, (_, i) => `scans/${CANARY}-${i}.png`);
      const candidates = await pngTar(names, 16, 7);
      const inputs = await uploadAuditInputs(s.alice, { ...tinyEncoderPair(), candidates });
      const r = await s.alice.submit({ ...inputs, config: { views: 2, batchSize: 2 } });
      const done = await s.alice.waitFor(r.body.id);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      const report = await s.alice.request(`/v1/audits/${r.body.id}/report?format=html`);
      assert.equal(report.status, 200);
      await report.text();

      const blobFile = s.blobs.pathFor(inputs.candidates);
      assert.equal(existsSync(blobFile), true);
      assert.ok(databaseBytes(s.dir).includes(CANARY), "the canary is in the database before the purge (the check can see it)");

      const del = await s.alice.request(`/v1/audits/${r.body.id}`, { method: "DELETE" });
      assert.equal(del.status, 204);

      assert.equal(existsSync(blobFile), false, "candidate archive deleted");
      const leftovers = filesUnder(join(s.dir, "blobs")).filter((f) => readFileSync(f).equals(candidates));
      assert.deepEqual(leftovers, [], "no copy of the archive anywhere under blobs/");
      assert.deepEqual(filesUnder(join(s.dir, "tmp")), [], "no extracted members left in tmp/");
      assert.equal((await s.alice.request(`/v1/blobs/${inputs.candidates}`, { method: "HEAD" })).status, 404);
      assert.equal((await s.alice.request(`/v1/audits/${r.body.id}/results`)).status, 404);
      assert.equal(existsSync(s.blobs.pathFor(inputs.target)), true, "models are kept (not private data)");

      const db = new Database(join(s.dir, "sslmem.db"), { readonly: true, fileMustExist: true });
      try {
        for (const table of ["audit_results", "audit_events", "audit_blobs", "audits"]) {
          const n = db.prepare(`SELECT count(*) FROM ${table} WHERE ${table === "audits" ? "id" : "audit_id"} = ?`).pluck().get(r.body.id);
          assert.equal(n, 0, `${table} rows gone`);
        }
      } finally {
        db.close();
      }
      assert.equal(databaseBytes(s.dir).includes(CANARY), false, "no point id left in the raw bytes of sslmem.db, -wal or -shm");
      const logs = s.logs.join("");
      assert.equal(logs.includes(CANARY), false, "point ids never logged");
    } finally {
      await s.close();
    }
  });
});
