/**
 * The hostile-input suite (issue 4): every case of cases/*.ts against the real service with the
 * real engine, and a few through the CLI. Each case asserts its own outcome and, in common:
 *   - a stable problem code, a 4xx (or an audit that ends `failed` with a 4xx problem);
 *   - no crash: /readyz answers 200 afterwards;
 *   - nothing stored changed: every SQLite row, blob file and temp folder is as before (refused),
 *     or only the case's own audit and uploads were added (accepted); the finished baseline
 *     audit's results, report and resource are byte-identical;
 *   - no leak: no response contains the data directory, the repository path, node_modules or a
 *     stack frame.
 * CASES.md documents the cases; a test below keeps it in step with the code. The CLI cases are in
 * hostile-cli.test.ts.
 */
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ERROR_CODES } from "../../src/core/errors.ts";
import { ARCHIVE_CASES } from "./cases/archives.ts";
import { CLI_CASES } from "./cases/cli.ts";
import { IMAGE_CASES } from "./cases/images.ts";
import { CHEAP_CONFIG, validCandidates, validReference, validTarget } from "./cases/inputs.ts";
import { MODEL_CASES } from "./cases/models.ts";
import { REQUEST_CASES } from "./cases/requests.ts";
import { REQUEST_STREAM_CASES } from "./cases/requests-streams.ts";
import type { CaseContext, HostileCase } from "./cases/types.ts";
import { createContext, toOutcome } from "./support/context.ts";
import { startHardeningServer, type HardeningServer } from "./support/server.ts";
import { assertOnlyOwnAdditions, assertUnchanged, takeSnapshot } from "./support/snapshot.ts";

const CASES: HostileCase[] = [...MODEL_CASES, ...IMAGE_CASES, ...ARCHIVE_CASES, ...REQUEST_CASES, ...REQUEST_STREAM_CASES];
const REPO = realpathSync(new URL("../..", import.meta.url).pathname);

function assertNoLeak(text: string, dataDir: string, label: string): void {
  const forbidden = [dataDir, realpathSync(dataDir), REPO, "/work/", "node_modules", "    at ", "blobs/sha256/"];
  for (const needle of forbidden) assert.ok(!text.includes(needle), `${label}: a response contains ${JSON.stringify(needle)}: ${text.slice(0, 300)}`);
}

function checkDetail(c: HostileCase, detail: string): void {
  if (c.detail instanceof RegExp) assert.match(detail, c.detail, `${c.id}: detail`);
  else c.detail?.(detail);
}

describe("hostile inputs against the real service", { concurrency: false }, () => {
  let server: HardeningServer;
  let valid: CaseContext["valid"];
  let baseline: { id: string; texts: string[] };

  /** The finished baseline audit as the API shows it: resource, results (all formats), report. */
  const baselineTexts = async (id: string) =>
    Promise.all(
      [`/v1/audits/${id}`, `/v1/audits/${id}/results?format=json&limit=1000`, `/v1/audits/${id}/results?format=csv`, `/v1/audits/${id}/report?format=json`].map(
        async (path) => {
          const res = await server.request(path);
          assert.equal(res.status, 200, path);
          return res.text();
        },
      ),
    );

  before(async () => {
    server = await startHardeningServer();
    const ctx = createContext(server, { target: "", reference: "", candidates: "" });
    valid = {
      target: await ctx.upload(validTarget()),
      reference: await ctx.upload(validReference()),
      candidates: await ctx.upload(validCandidates()),
    };
    const res = await ctx.submitJson({ ...valid, config: CHEAP_CONFIG });
    assert.equal(res.status, 202, res.text);
    const done = await ctx.waitFinished(res.json.id);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    baseline = { id: done.id, texts: await baselineTexts(done.id) };
  });

  after(() => server?.close());

  test("the suite has at least 40 distinct cases and CASES.md documents each one as coded", () => {
    const ids = CASES.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, "case ids are unique");
    assert.ok(ids.length >= 40, `${ids.length} cases`);
    const doc = readFileSync(new URL("./CASES.md", import.meta.url), "utf8");
    const rows = new Map<string, string[]>();
    for (const line of doc.split("\n")) {
      const cells = line.split("|").map((c) => c.trim());
      if (/^[MIARC]\d\d$/.test(cells[1] ?? "")) rows.set(cells[1], cells);
    }
    for (const c of CASES) {
      const row = rows.get(c.id);
      assert.ok(row, `CASES.md has no row for ${c.id}`);
      const code = c.expect.kind === "succeeded" ? "—" : `\`${c.expect.code}\``;
      assert.equal(row[5], code, `${c.id}: CASES.md code column`);
      const status = c.expect.kind === "refused" ? String(c.expect.status) : c.expect.kind === "failed" ? `202 → failed (${ERROR_CODES[c.expect.code]})` : "202 → succeeded";
      assert.equal(row[4], status, `${c.id}: CASES.md status column`);
    }
    for (const c of CLI_CASES) assert.equal(rows.get(c.id)?.[5], `\`${c.code}\``, `${c.id}: CASES.md code column`);
    assert.equal(rows.size, CASES.length + CLI_CASES.length, "CASES.md has no rows for cases that do not exist");
  });

  for (const c of CASES) {
    test(`${c.id} ${c.input}`, async () => {
      const setupCtx = createContext(server, valid);
      const prepared = c.setup ? await c.setup(setupCtx) : undefined;
      for (const id of setupCtx.audits) await setupCtx.waitFinished(id);

      const beforeSnap = takeSnapshot(server.dir);
      const ctx = createContext(server, valid);
      const outcome = await c.run(ctx, prepared);
      const expect = c.expect;

      if (expect.kind === "refused") {
        assert.equal(outcome.status, expect.status, `status: ${outcome.text}`);
        assert.equal(outcome.contentType, "application/problem+json", outcome.text);
        assert.equal(outcome.json.code, expect.code, outcome.text);
        assert.equal(outcome.json.status, expect.status);
        assert.equal(typeof outcome.json.detail, "string", "a 4xx says what to fix");
        checkDetail(c, outcome.json.detail);
        assert.equal(ctx.audits.size, 0, "no audit was created");
        assertUnchanged(beforeSnap, takeSnapshot(server.dir), c.id);
      } else {
        assert.equal(outcome.status, 202, `submission: ${outcome.text}`);
        const audit = await ctx.waitFinished(outcome.json.id);
        if (expect.kind === "failed") {
          assert.equal(audit.state, "failed", `state (error ${JSON.stringify(audit.error)})`);
          assert.equal(audit.error?.code, expect.code, JSON.stringify(audit.error));
          assert.ok(audit.error.status >= 400 && audit.error.status < 500, `a 4xx problem: ${JSON.stringify(audit.error)}`);
          assert.equal(typeof audit.error.detail, "string");
          checkDetail(c, audit.error.detail!);
        } else {
          assert.equal(audit.state, "succeeded", JSON.stringify(audit.error));
          await expect.check(audit, ctx);
        }
        for (const id of ctx.audits) await ctx.waitFinished(id);
        assertOnlyOwnAdditions(beforeSnap, takeSnapshot(server.dir), { audits: ctx.audits, digests: ctx.uploaded }, c.id);
      }

      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200, "the service is still ready");
      await ready.text();
      assert.deepEqual(await baselineTexts(baseline.id), baseline.texts, "the finished baseline audit is unchanged");
      for (const text of ctx.bodies) assertNoLeak(text, server.dir, c.id);
    });
  }

  test("the service survived all cases: still ready, still runs a valid audit", async () => {
    const ctx = createContext(server, valid);
    const res = await ctx.submitJson({ ...valid, config: { ...CHEAP_CONFIG, seed: 99 } });
    assert.equal(res.status, 202, res.text);
    assert.equal((await ctx.waitFinished(res.json.id)).state, "succeeded");
    const live = await toOutcome(await fetch(`${server.url}/livez`));
    assert.equal(live.status, 200);
  });
});
