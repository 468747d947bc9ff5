/**
 * No response ever carries a filesystem path, a stack trace or an internal message. Failures are
 * forced on purpose (store errors whose messages hold paths, a broken temp directory under the
 * engine, inputs deleted behind the service's back, corrupt models, a corrupt stored report…)
 * and every response of the run — bodies, headers, SSE streams, failed audits' problems — is
 * scanned for the marks of internals.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";
import { pngTar, randomNpy, tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";
import type { ServiceClient } from "../helpers/service-client.ts";

const INTERNAL_PATH = "/var/lib/sslmem/secret-volume/sslmem.db";

/** Fails chosen store reads with a driver-like error whose message holds a path. */
function faultyReads(store: SqliteStore, failing: Set<string>): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && failing.has(prop)) {
        return async () => {
          throw Object.assign(new Error(`SQLITE_IOERR: disk I/O error reading ${INTERNAL_PATH}`), { code: "SQLITE_IOERR" });
        };
      }
      return value.bind(target);
    },
  }) as unknown as Store;
}

function leakMarks(dataDir: string): [string, RegExp][] {
  return [
    ["the data directory", new RegExp(dataDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))],
    ["an internal path", /\/var\/lib\/sslmem|\/tmp\/|\/work\/|node_modules|[\w-]+\.ts\b|\.js:\d+/],
    ["a stack frame", /\bat (async )?[\w.<>]+ \(|\n\s+at /],
    ["a driver or errno code", /SQLITE_|ENOENT|ENOTDIR|EACCES|EISDIR|ERR_[A-Z_]+/],
    ["a JS error prefix", /\b(Type|Range|Reference|Syntax)?Error: /],
  ];
}

describe("no internals in responses", () => {
  it("hides paths, stacks and internal messages on every forced failure", async () => {
    const failing = new Set<string>();
    const s = await startEngineServer({ wrapStore: (store) => faultyReads(store, failing) });
    const seen: { what: string; text: string }[] = [];
    const record = async (what: string, res: Response) => {
      const text = await res.text();
      seen.push({ what, text: `${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n${text}` });
      return { status: res.status, text };
    };
    const call = (c: ServiceClient, what: string, path: string, init?: RequestInit) => c.request(path, init).then((r) => record(what, r));
    try {
      const pair = tinyEncoderPair();
      const good = await uploadAuditInputs(s.alice, { ...pair, candidates: randomNpy(4, 16, 1) });

      // 1. A store read fails with a path in its message → generic 500 (the log has it).
      failing.add("getAudit").add("listAudits");
      const r500 = await call(s.alice, "store failure", "/v1/audits/aud_00000000000000000000000000");
      const r500b = await call(s.alice, "store failure (list)", "/v1/audits");
      failing.clear();
      assert.deepEqual([r500.status, r500b.status], [500, 500]);
      assert.deepEqual(Object.keys(JSON.parse(r500.text)).sort(), ["code", "requestId", "status", "title", "type"]);
      assert.ok(s.logs.join("").includes(INTERNAL_PATH), "the details are in the log instead");

      // 2. The engine's temp directory is broken (a file where the directory should be): a
      //    .tar.gz input cannot be unpacked → failed audit with a generic problem.
      rmSync(join(s.dir, "tmp"), { recursive: true, force: true });
      writeFileSync(join(s.dir, "tmp"), "not a directory");
      const targz = gzipSync(await pngTar(["a.png", "b.png", "c.png"], 16, 2));
      const broken = await s.alice.submit({ ...good, candidates: await s.alice.putBlob(targz), config: { views: 2 } });
      const brokenAudit = await s.alice.waitFor(broken.body.id);
      assert.equal(brokenAudit.state, "failed");
      await call(s.alice, "failed audit (tmp)", `/v1/audits/${broken.body.id}`);
      await call(s.alice, "events of a failed audit", `/v1/audits/${broken.body.id}/events`);
      rmSync(join(s.dir, "tmp"), { force: true });

      // 3. The candidates file disappears from disk after the audit was accepted.
      const vanishing = await s.alice.putBlob(randomNpy(3, 16, 9));
      unlinkSync(s.blobs.pathFor(vanishing));
      const gone = await s.alice.submit({ ...good, candidates: vanishing, config: { views: 2 } });
      assert.equal((await s.alice.waitFor(gone.body.id)).state, "failed");
      await call(s.alice, "failed audit (blob gone)", `/v1/audits/${gone.body.id}`);
      await call(s.alice, "GET a vanished blob", `/v1/blobs/${vanishing}`);

      // 4. Corrupt and truncated models.
      for (const [name, bytes] of [
        ["random", new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
        ["truncated", pair.target.subarray(0, Math.floor(pair.target.length / 2))],
      ] as const) {
        const model = await s.alice.putBlob(bytes);
        const r = await s.alice.submit({ ...good, target: model, config: { views: 2 } });
        assert.equal((await s.alice.waitFor(r.body.id)).state, "failed", name);
        await call(s.alice, `failed audit (${name} model)`, `/v1/audits/${r.body.id}`);
      }

      // 5. A stored report that no longer matches the schema → generic 500 on every format.
      const ok = await s.alice.submit({ ...good, config: { views: 2 } });
      assert.equal((await s.alice.waitFor(ok.body.id)).state, "succeeded");
      const { default: Database } = await import("better-sqlite3");
      const raw = new Database(join(s.dir, "sslmem.db"));
      raw.prepare("UPDATE audits SET report = ? WHERE id = ?").run(JSON.stringify({ schema: `file://${INTERNAL_PATH}` }), ok.body.id);
      raw.close();
      for (const format of ["json", "html", "junit", "sarif", "csv"]) {
        const r = await call(s.alice, `corrupt report (${format})`, `/v1/audits/${ok.body.id}/report?format=${format}`);
        assert.equal(r.status, 500, format);
      }

      // 6. Client errors: unknown routes, malformed JSON, wrong types, bad ids and digests.
      await call(s.alice, "unknown route", "/v1/../../etc/passwd");
      await call(s.alice, "malformed json", "/v1/audits", { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
      await call(s.alice, "wrong type", "/v1/audits", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ target: 1 }) });
      await call(s.alice, "bad id", "/v1/audits/..%2F..%2Fetc");
      await call(s.alice, "bad digest", "/v1/blobs/sha256:xyz", { method: "PUT", body: "x" });
      await call(s.alice, "bad results cursor", `/v1/audits/${ok.body.id}/results?cursor=%00%2Fetc`);
      await call(s.anonymous, "no token", "/v1/audits");
      await call(s.anonymous, "readyz", "/readyz");

      assert.ok(seen.length >= 20);
      for (const { what, text } of seen) {
        for (const [mark, pattern] of leakMarks(s.dir)) {
          assert.doesNotMatch(text, pattern, `${what}: response shows ${mark}`);
        }
      }
    } finally {
      await s.close();
    }
  });
});
