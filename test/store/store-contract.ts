/**
 * The behaviour every Store implementation must have. test/store/sqlite-store.test.ts runs it
 * against SQLite files; a PostgreSQL store runs the same suite against a real database.
 *
 * The clock is injected (no timed assertions): each test owns `clock.now` and moves it by hand.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SslmemError } from "../../src/core/errors.ts";
import type { AuditInputs, AuditRecord, ResultRow, Store, StoredResult } from "../../src/store/types.ts";
import { deliveryContract } from "./delivery-contract.ts";
import { layerContract } from "./layer-contract.ts";
import { unitResultsContract } from "./unit-results-contract.ts";

export interface StoreUnderTest {
  /** A fresh, empty store. */
  store: Store;
  /** Closes `store` and opens the same database again, as a restarted process would. */
  reopen(): Promise<Store>;
  /** Releases everything the harness made (temp dirs, databases). */
  dispose(): Promise<void>;
  /** Rows of `table` that belong to the audit, read from the database itself (past the store's API). */
  auditRows(table: "audit_results" | "audit_result_layers" | "audit_layers", auditId: string): Promise<number>;
  /** All rows of `table`, read from the database itself. */
  tableRows(table: AuditCreationTable): Promise<number>;
  /**
   * Makes the database itself refuse every insert into `table` (a trigger raising an error), as a
   * constraint or a failing disk would, mid-transaction. Removed again by dispose().
   */
  refuseInserts(table: AuditCreationTable): Promise<void>;
}

/** The tables an audit's creation writes to, in one transaction. */
export type AuditCreationTable = "audits" | "audit_blobs" | "audit_events" | "outbox";

export type MakeStore = (options: { now: () => number }) => Promise<StoreUnderTest>;

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

export const digestOf = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`;

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SslmemError, `expected SslmemError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function row(index: number, overrides: Partial<ResultRow> = {}): ResultRow {
  return {
    index,
    id: `img/${String(index).padStart(4, "0")}.png`,
    role: "candidate",
    alignTarget: 0.5 + index / 100,
    alignReference: 0.75 + index / 200,
    score: 0.25 - index / 200,
    stdErr: 0.01,
    pairs: 16,
    ...overrides,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function storeContract(name: string, makeStore: MakeStore): void {
  deliveryContract(name, makeStore);
  layerContract(name, makeStore);
  unitResultsContract(name, makeStore);
  /** Runs `body` on a fresh store with a hand-moved clock; always disposes. */
  async function withStore(body: (ctx: { store: Store; clock: { now: number }; h: StoreUnderTest }) => Promise<void>) {
    const clock = { now: T0 };
    const h = await makeStore({ now: () => clock.now });
    try {
      await body({ store: h.store, clock, h });
    } finally {
      await h.dispose();
    }
  }

  /** Records the four input blobs for `tenant` and returns them as audit inputs. */
  async function ownedInputs(store: Store, tenant: string, tag = "x", withControls = false): Promise<AuditInputs> {
    const inputs: AuditInputs = {
      target: digestOf(`target-${tag}`),
      reference: digestOf(`reference-${tag}`),
      candidates: digestOf(`candidates-${tag}`),
      ...(withControls ? { controls: digestOf(`controls-${tag}`) } : {}),
    };
    for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 10, tenant });
    return inputs;
  }

  async function newAudit(store: Store, tenant = "acme", tag = "x"): Promise<AuditRecord> {
    const inputs = await ownedInputs(store, tenant, tag);
    return (await store.createAudit({ tenant, config: { views: 4, seed: 7 }, inputs })).audit;
  }

  async function runningAudit(store: Store, tenant = "acme", tag = "x"): Promise<AuditRecord> {
    const a = await newAudit(store, tenant, tag);
    assert.equal(await store.transition(a.id, ["queued"], "running"), true);
    return a;
  }

  describe(`${name}: store contract`, () => {
    describe("tokens", () => {
      it("creates a high-entropy token once and authenticates it by hash", () =>
        withStore(async ({ store }) => {
          const { id, token } = await store.createToken("acme");
          assert.match(token, /^sslm_[A-Za-z0-9_-]{43}$/);
          assert.match(id, /^tok_[0-9A-HJKMNP-TV-Z]{26}$/);
          assert.deepEqual(await store.authenticate(token), { tenant: "acme", tokenId: id });
          const second = await store.createToken("acme");
          assert.notEqual(second.token, token);
          assert.notEqual(second.id, id);
        }));

      it("refuses unknown, altered and malformed tokens", () =>
        withStore(async ({ store }) => {
          const { token } = await store.createToken("acme");
          const last = token.at(-1) === "A" ? "B" : "A";
          assert.equal(await store.authenticate(token.slice(0, -1) + last), null);
          assert.equal(await store.authenticate(token + "x"), null);
          assert.equal(await store.authenticate(""), null);
          assert.equal(await store.authenticate("Bearer " + token), null);
        }));

      it("revokes a token once", () =>
        withStore(async ({ store }) => {
          const { id, token } = await store.createToken("acme");
          assert.equal(await store.revokeToken(id), true);
          assert.equal(await store.authenticate(token), null);
          assert.equal(await store.revokeToken(id), false);
          assert.equal(await store.revokeToken("tok_unknown"), false);
        }));

      it("lists a tenant's tokens without their secrets", () =>
        withStore(async ({ store, clock }) => {
          const a = await store.createToken("acme");
          clock.now += 1000;
          const b = await store.createToken("acme");
          await store.createToken("globex");
          await store.revokeToken(b.id);
          const list = await store.listTokens("acme");
          assert.deepEqual(
            list.map((t) => [t.id, t.tenant, t.createdAt, t.revokedAt]),
            [
              [a.id, "acme", new Date(T0).toISOString(), null],
              [b.id, "acme", new Date(T0 + 1000).toISOString(), new Date(T0 + 1000).toISOString()],
            ],
          );
          assert.ok(!JSON.stringify(list).includes(a.token), "no plaintext token in the listing");
          assert.deepEqual(await store.listTokens("nobody"), []);
        }));

      it("validates tenant names", () =>
        withStore(async ({ store }) => {
          await rejectsWithCode(store.createToken(""), "validation_failed");
          await rejectsWithCode(store.createToken("../etc"), "validation_failed");
          await rejectsWithCode(store.createToken("a".repeat(65)), "validation_failed");
        }));
    });

    describe("audits", () => {
      it("creates a queued audit with its config and inputs", () =>
        withStore(async ({ store }) => {
          const inputs = await ownedInputs(store, "acme", "x", true);
          const { audit, created } = await store.createAudit({
            tenant: "acme",
            config: { views: 4, augment: { crop: { scale: [0.2, 1] } } },
            inputs,
          });
          assert.equal(created, true);
          assert.match(audit.id, /^aud_[0-9A-HJKMNP-TV-Z]{26}$/);
          assert.equal(audit.tenant, "acme");
          assert.equal(audit.state, "queued");
          assert.deepEqual(audit.config, { views: 4, augment: { crop: { scale: [0.2, 1] } } });
          assert.deepEqual(audit.inputs, inputs);
          assert.equal(audit.createdAt, new Date(T0).toISOString());
          assert.equal(audit.updatedAt, audit.createdAt);
          assert.equal(audit.startedAt, null);
          assert.equal(audit.finishedAt, null);
          assert.equal(audit.progress, null);
          assert.equal(audit.summary, null);
          assert.equal(audit.error, null);
          assert.equal(audit.report, null);
          assert.equal(audit.attempt, 0);
          assert.equal(audit.idempotencyKey, null);
          assert.equal(audit.inputsPurgedAt, null);
          assert.deepEqual(await store.getAudit("acme", audit.id), audit);
          assert.deepEqual(await store.getAuditInternal(audit.id), audit);
        }));

      it("requires every input blob to be owned by the tenant", () =>
        withStore(async ({ store }) => {
          const theirs = await ownedInputs(store, "globex");
          await rejectsWithCode(store.createAudit({ tenant: "acme", config: {}, inputs: theirs }), "blob_not_found");
          const ours = await ownedInputs(store, "acme");
          await rejectsWithCode(
            store.createAudit({ tenant: "acme", config: {}, inputs: { ...ours, controls: digestOf("never uploaded") } }),
            "blob_not_found",
          );
          await rejectsWithCode(
            store.createAudit({ tenant: "acme", config: {}, inputs: { ...ours, target: "sha256:ABC" } }),
            "validation_failed",
          );
          assert.deepEqual((await store.listAudits("acme", { limit: 10 })).items, []);
        }));

      it("honours Idempotency-Key per tenant", () =>
        withStore(async ({ store }) => {
          const inputs = await ownedInputs(store, "acme");
          await ownedInputs(store, "globex");
          const req = { tenant: "acme", config: { views: 4 }, inputs, idempotencyKey: "k-1", requestHash: "h1" };
          const first = await store.createAudit(req);
          assert.equal(first.created, true);
          assert.equal(first.audit.idempotencyKey, "k-1");
          assert.equal(first.audit.requestHash, "h1");
          const replay = await store.createAudit(req);
          assert.equal(replay.created, false);
          assert.deepEqual(replay.audit, first.audit);

          await assert.rejects(store.createAudit({ ...req, requestHash: "h2" }), (e: unknown) => {
            assert.ok(e instanceof SslmemError, "an SslmemError");
            assert.equal(e.code, "idempotency_conflict");
            assert.equal(e.details?.auditId, first.audit.id);
            return true;
          });
          // The key is scoped to the tenant; no key means no deduplication.
          const other = await store.createAudit({ ...req, tenant: "globex" });
          assert.equal(other.created, true);
          assert.notEqual(other.audit.id, first.audit.id);
          const { idempotencyKey: _k, ...noKey } = req;
          const a = await store.createAudit(noKey);
          const b = await store.createAudit(noKey);
          assert.notEqual(a.audit.id, b.audit.id);
          assert.equal((await store.listAudits("acme", { limit: 100 })).items.length, 3);
        }));

      it("creates one audit when the same key is submitted concurrently", () =>
        withStore(async ({ store }) => {
          const inputs = await ownedInputs(store, "acme");
          const req = { tenant: "acme", config: {}, inputs, idempotencyKey: "race", requestHash: "h" };
          const results = await Promise.all(Array.from({ length: 8 }, () => store.createAudit(req)));
          assert.equal(results.filter((r) => r.created).length, 1);
          assert.equal(new Set(results.map((r) => r.audit.id)).size, 1);
        }));

      it("scopes reads, lists and deletes to the tenant", () =>
        withStore(async ({ store }) => {
          const a = await newAudit(store, "acme");
          assert.equal(await store.getAudit("globex", a.id), null);
          assert.deepEqual(await store.listAudits("globex", { limit: 10 }), { items: [], nextCursor: null });
          assert.equal(await store.deleteAudit("globex", a.id), false);
          assert.notEqual(await store.getAudit("acme", a.id), null);
          assert.equal(await store.getAudit("acme", "aud_00000000000000000000000000"), null);
          assert.equal(await store.getAuditInternal("aud_00000000000000000000000000"), null);
        }));

      it("pages 25 audits newest first with a cursor", () =>
        withStore(async ({ store, clock }) => {
          const created: string[] = [];
          for (let i = 0; i < 25; i++) {
            // Several audits per millisecond too: ids must still sort by creation.
            if (i % 3 === 0) clock.now += 1;
            created.push((await newAudit(store, "acme", `a${i}`)).id);
          }
          await newAudit(store, "globex");
          const pages: string[][] = [];
          let cursor: string | null = null;
          do {
            const page = await store.listAudits("acme", { limit: 10, cursor });
            pages.push(page.items.map((a) => a.id));
            cursor = page.nextCursor;
          } while (cursor !== null);
          assert.deepEqual(
            pages.map((p) => p.length),
            [10, 10, 5],
          );
          assert.deepEqual(pages.flat(), [...created].reverse());
          // An exact multiple ends without an empty extra page.
          const exact = await store.listAudits("acme", { limit: 25 });
          assert.equal(exact.items.length, 25);
          assert.equal(exact.nextCursor, null);
          await rejectsWithCode(store.listAudits("acme", { limit: 10, cursor: "garbage" }), "validation_failed");
          await rejectsWithCode(store.listAudits("acme", { limit: 0 }), "validation_failed");
          await rejectsWithCode(store.listAudits("acme", { limit: 1001 }), "validation_failed");
        }));

      it("lists audits by state oldest first and counts them", () =>
        withStore(async ({ store, clock }) => {
          const q1 = await newAudit(store, "acme", "1");
          clock.now += 10;
          const r1 = await newAudit(store, "globex", "2");
          clock.now += 10;
          const q2 = await newAudit(store, "acme", "3");
          clock.now += 10;
          const done = await newAudit(store, "acme", "4");
          await store.transition(r1.id, ["queued"], "running");
          await store.transition(done.id, ["queued"], "cancelled");
          assert.deepEqual(
            (await store.listAuditsByState(["queued", "running"])).map((a) => a.id),
            [q1.id, r1.id, q2.id],
          );
          assert.deepEqual(
            (await store.listAuditsByState(["cancelled"])).map((a) => a.id),
            [done.id],
          );
          assert.deepEqual(await store.listAuditsByState([]), []);
          assert.deepEqual(await store.countAuditsByState(), { queued: 2, running: 1, succeeded: 0, failed: 0, cancelled: 1 });
          await rejectsWithCode(store.listAuditsByState(["paused" as never]), "validation_failed");
        }));
    });

    describe("state machine", () => {
      it("runs queued → running → succeeded with timestamps, attempt and patch", () =>
        withStore(async ({ store, clock }) => {
          const a = await newAudit(store);
          clock.now = T0 + 1000;
          assert.equal(
            await store.transition(a.id, ["queued"], "running", { progress: { stage: "scoring", done: 0, total: 10 } }),
            true,
          );
          let cur = (await store.getAuditInternal(a.id))!;
          assert.equal(cur.state, "running");
          assert.equal(cur.startedAt, new Date(T0 + 1000).toISOString());
          assert.equal(cur.updatedAt, new Date(T0 + 1000).toISOString());
          assert.equal(cur.attempt, 1);
          assert.deepEqual(cur.progress, { stage: "scoring", done: 0, total: 10 });

          clock.now = T0 + 2000;
          assert.equal(await store.setProgress(a.id, { stage: "scoring", done: 5, total: 10, etaSeconds: 3 }), true);
          cur = (await store.getAuditInternal(a.id))!;
          assert.deepEqual(cur.progress, { stage: "scoring", done: 5, total: 10, etaSeconds: 3 });
          assert.equal(cur.updatedAt, new Date(T0 + 2000).toISOString());

          clock.now = T0 + 3000;
          const summary = { flagged: 2, points: 10, threshold: 1.5 };
          const report = { engine: { name: "onnxruntime", provider: "cpu" } };
          assert.equal(await store.transition(a.id, ["running"], "succeeded", { summary, report, progress: null }), true);
          cur = (await store.getAuditInternal(a.id))!;
          assert.equal(cur.state, "succeeded");
          assert.equal(cur.finishedAt, new Date(T0 + 3000).toISOString());
          assert.equal(cur.startedAt, new Date(T0 + 1000).toISOString());
          assert.deepEqual(cur.summary, summary);
          assert.deepEqual(cur.report, report);
          assert.equal(cur.progress, null);
          assert.equal(cur.error, null);
          assert.equal(await store.setProgress(a.id, { stage: "x", done: 1, total: 1 }), false);
        }));

      it("refuses a transition from an unexpected state", () =>
        withStore(async ({ store }) => {
          const a = await newAudit(store);
          assert.equal(await store.transition(a.id, ["running"], "succeeded"), false);
          assert.equal((await store.getAuditInternal(a.id))!.state, "queued");
          assert.equal(await store.setProgress(a.id, { stage: "x", done: 0, total: 1 }), false);
          assert.equal(await store.transition("aud_00000000000000000000000000", ["queued"], "running"), false);
          assert.equal(await store.transition(a.id, [], "running"), false);
        }));

      it("counts a crash with the transition that records it (crash-loop protection)", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          assert.equal(a.crashes, 0);
          assert.equal(await store.transition(a.id, ["running"], "queued", { countCrash: true }), true);
          assert.equal((await store.getAuditInternal(a.id))!.crashes, 1);
          assert.equal(await store.transition(a.id, ["queued"], "running"), true);
          assert.equal((await store.getAuditInternal(a.id))!.crashes, 1, "starting again counts an attempt, not a crash");
          assert.equal(await store.transition(a.id, ["queued"], "failed", { countCrash: true }), false, "a refused transition counts nothing");
          assert.equal(await store.transition(a.id, ["running"], "failed", { countCrash: true, error: { code: "crash_loop" } }), true);
          const cur = (await store.getAuditInternal(a.id))!;
          assert.deepEqual([cur.state, cur.crashes, cur.attempt], ["failed", 2, 2]);
        }));

      it("throws on an edge the state machine does not have", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          await store.transition(a.id, ["running"], "failed", { error: { code: "engine_failure", title: "x" } });
          await rejectsWithCode(store.transition(a.id, ["failed"], "running"), "internal");
          await rejectsWithCode(store.transition(a.id, ["queued"], "succeeded"), "internal");
          await rejectsWithCode(store.transition(a.id, ["queued"], "bogus" as never), "validation_failed");
          const cur = (await store.getAuditInternal(a.id))!;
          assert.equal(cur.state, "failed");
          assert.deepEqual(cur.error, { code: "engine_failure", title: "x" });
        }));

      it("counts restarts and keeps the first start time", () =>
        withStore(async ({ store, clock }) => {
          const a = await runningAudit(store);
          clock.now += 5000;
          assert.equal(await store.transition(a.id, ["running"], "queued"), true);
          let cur = (await store.getAuditInternal(a.id))!;
          assert.equal(cur.state, "queued");
          assert.equal(cur.finishedAt, null);
          assert.equal(await store.transition(a.id, ["queued"], "running"), true);
          assert.equal(await store.transition(a.id, ["running"], "running"), true);
          cur = (await store.getAuditInternal(a.id))!;
          assert.equal(cur.attempt, 3);
          assert.equal(cur.startedAt, new Date(T0).toISOString());
        }));

      it("cancels queued and running audits, once", () =>
        withStore(async ({ store }) => {
          const q = await newAudit(store, "acme", "q");
          const r = await runningAudit(store, "acme", "r");
          assert.equal(await store.transition(q.id, ["queued", "running"], "cancelled"), true);
          assert.equal(await store.transition(r.id, ["queued", "running"], "cancelled"), true);
          assert.equal(await store.transition(r.id, ["queued", "running"], "cancelled"), false);
          // The runner's own completion loses the race cleanly.
          assert.equal(await store.transition(r.id, ["running"], "succeeded"), false);
          assert.equal((await store.getAuditInternal(r.id))!.state, "cancelled");
          assert.notEqual((await store.getAuditInternal(q.id))!.finishedAt, null);
        }));
    });

    describe("per-point results", () => {
      it("appends idempotently by index and iterates in index order", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          await store.appendResults(a.id, [row(3), row(1)]);
          await store.appendResults(a.id, [row(0), row(2)]);
          // A batch recomputed after a crash: same indices replace, never duplicate.
          await store.appendResults(a.id, [row(1, { score: 9, id: "img/again.png" }), row(2)]);
          assert.equal(await store.countResults(a.id), 4);
          const all = await collect(store.iterateResults(a.id));
          assert.deepEqual(
            all.map((r) => r.index),
            [0, 1, 2, 3],
          );
          assert.deepEqual(all[1], row(1, { score: 9, id: "img/again.png" }));
          assert.deepEqual(all[3], row(3));
          assert.equal(await store.maxCommittedIndex(a.id), 3);
          assert.deepEqual(await store.committedIndices(a.id), [0, 1, 2, 3]);
          assert.deepEqual(await store.committedIndices(a.id, { from: 1, to: 3 }), [1, 2]);
          await store.appendResults(a.id, []);
          assert.equal(await store.countResults(a.id), 4);
        }));

      it("reports nothing committed for a fresh audit", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          assert.equal(await store.maxCommittedIndex(a.id), null);
          assert.deepEqual(await store.committedIndices(a.id), []);
          assert.equal(await store.countResults(a.id), 0);
          assert.deepEqual(await collect(store.iterateResults(a.id)), []);
          assert.deepEqual(await store.readResults(a.id, { limit: 10 }), { items: [], nextCursor: null });
        }));

      it("keeps results of audits apart", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store, "acme", "a");
          const b = await runningAudit(store, "acme", "b");
          await store.appendResults(a.id, [row(0), row(1)]);
          await store.appendResults(b.id, [row(0, { score: -1 })]);
          assert.equal(await store.countResults(a.id), 2);
          assert.deepEqual(await collect(store.iterateResults(b.id)), [row(0, { score: -1 })]);
        }));

      it("rejects rows that would not round-trip, storing none of the batch", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          await rejectsWithCode(store.appendResults(a.id, [row(0), row(1, { score: Number.NaN })]), "internal");
          await rejectsWithCode(store.appendResults(a.id, [row(0, { stdErr: Infinity })]), "internal");
          await rejectsWithCode(store.appendResults(a.id, [row(-1)]), "internal");
          await rejectsWithCode(store.appendResults(a.id, [row(1.5)]), "internal");
          await rejectsWithCode(store.appendResults(a.id, [row(0, { role: "other" as never })]), "internal");
          assert.equal(await store.countResults(a.id), 0);
        }));

      it("refuses results and events for a deleted audit", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          await store.deleteAudit("acme", a.id);
          await rejectsWithCode(store.appendResults(a.id, [row(0)]), "not_found");
          await rejectsWithCode(store.appendEvent(a.id, { type: "progress", data: {} }), "not_found");
        }));

      it("finalizes in one transaction", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          await store.appendResults(a.id, [row(0), row(1, { role: "control" }), row(2)]);
          await store.finalizeResults(a.id, [
            { index: 0, scoreNormalized: 2.5, pValue: 0.001, flagged: true },
            { index: 1, scoreNormalized: -0.5, pValue: 0.7, flagged: false },
            { index: 2, scoreNormalized: 0.1, flagged: false },
          ]);
          const all = await collect(store.iterateResults(a.id));
          assert.deepEqual(all[0], { ...row(0), scoreNormalized: 2.5, pValue: 0.001, flagged: true });
          assert.deepEqual(all[1], { ...row(1, { role: "control" }), scoreNormalized: -0.5, pValue: 0.7, flagged: false });
          assert.deepEqual(all[2], { ...row(2), scoreNormalized: 0.1, flagged: false });

          // An unknown index rolls the whole batch back.
          await rejectsWithCode(
            store.finalizeResults(a.id, [
              { index: 0, scoreNormalized: 9, flagged: false },
              { index: 99, scoreNormalized: 1, flagged: true },
            ]),
            "internal",
          );
          const first = (await store.readResults(a.id, { limit: 1 })).items[0];
          assert.equal(first.scoreNormalized, 2.5);
          assert.equal(first.flagged, true);
          await rejectsWithCode(
            store.finalizeResults(a.id, [{ index: 0, scoreNormalized: Number.NaN, flagged: false }]),
            "internal",
          );

          // Re-appending a row clears its batch-level fields: they belong to the old batch.
          await store.appendResults(a.id, [row(0)]);
          assert.deepEqual((await store.readResults(a.id, { limit: 1 })).items[0], row(0));
        }));

      it("reads pages by cursor and offset, filtered by flag and role", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          const rows = Array.from({ length: 25 }, (_, i) => row(i, { role: i % 5 === 0 ? "control" : "candidate" }));
          await store.appendResults(a.id, rows);
          await store.finalizeResults(
            a.id,
            rows.map((r) => ({ index: r.index, scoreNormalized: (r.index * 7) % 25, flagged: r.index % 4 === 0 })),
          );

          const seen: number[] = [];
          let cursor: string | null = null;
          let pages = 0;
          do {
            const page: { items: StoredResult[]; nextCursor: string | null } = await store.readResults(a.id, {
              limit: 10,
              cursor,
            });
            seen.push(...page.items.map((r) => r.index));
            cursor = page.nextCursor;
            pages++;
          } while (cursor !== null);
          assert.equal(pages, 3);
          assert.deepEqual(seen, rows.map((r) => r.index));

          const byOffset = await store.readResults(a.id, { limit: 3, offset: 20 });
          assert.deepEqual(
            byOffset.items.map((r) => r.index),
            [20, 21, 22],
          );

          const flagged = await store.readResults(a.id, { limit: 100, flaggedOnly: true });
          assert.deepEqual(
            flagged.items.map((r) => r.index),
            [0, 4, 8, 12, 16, 20, 24],
          );
          assert.equal(flagged.nextCursor, null);
          assert.equal(await store.countResults(a.id, { flaggedOnly: true }), 7);
          assert.equal(await store.countResults(a.id, { role: "control" }), 5);
          assert.equal(await store.countResults(a.id, { role: "control", flaggedOnly: true }), 2); // 0 and 20
          const flaggedPage = await store.readResults(a.id, { limit: 4, flaggedOnly: true });
          const rest = await store.readResults(a.id, { limit: 4, flaggedOnly: true, cursor: flaggedPage.nextCursor });
          assert.deepEqual(
            [...flaggedPage.items, ...rest.items].map((r) => r.index),
            [0, 4, 8, 12, 16, 20, 24],
          );
          assert.equal(rest.nextCursor, null);

          const controls = await store.readResults(a.id, { limit: 100, role: "control" });
          assert.deepEqual(
            controls.items.map((r) => r.index),
            [0, 5, 10, 15, 20],
          );

          // Highest normalized score first, in pages.
          const top = await store.readResults(a.id, { limit: 3, order: "scoreNormalizedDesc" });
          assert.deepEqual(
            top.items.map((r) => r.scoreNormalized),
            [24, 23, 22],
          );
          const next = await store.readResults(a.id, { limit: 3, order: "scoreNormalizedDesc", cursor: top.nextCursor });
          assert.deepEqual(
            next.items.map((r) => r.scoreNormalized),
            [21, 20, 19],
          );
          const topFlagged = await store.readResults(a.id, { limit: 2, order: "scoreNormalizedDesc", flaggedOnly: true });
          // flagged indices 0,4,8,12,16,20,24 → scores 0,3,6,9,12,15,18
          assert.deepEqual(
            topFlagged.items.map((r) => [r.index, r.scoreNormalized]),
            [
              [24, 18],
              [20, 15],
            ],
          );

          await rejectsWithCode(store.readResults(a.id, { limit: 0 }), "validation_failed");
          await rejectsWithCode(store.readResults(a.id, { limit: 5, cursor: "o.3" }), "validation_failed");
          await rejectsWithCode(store.readResults(a.id, { limit: 5, cursor: "i.3", offset: 2 }), "validation_failed");
          await rejectsWithCode(store.readResults(a.id, { limit: 5, role: "other" as never }), "validation_failed");
        }));

      it("iterates in chunks, with filters", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          // Appended in descending batches; iteration is still by index.
          for (let start = 20; start >= 0; start -= 5) {
            await store.appendResults(
              a.id,
              Array.from({ length: 5 }, (_, i) => row(start + i, { role: (start + i) % 2 ? "control" : "candidate" })),
            );
          }
          const all = await collect(store.iterateResults(a.id, { chunkSize: 4 }));
          assert.deepEqual(
            all.map((r) => r.index),
            Array.from({ length: 25 }, (_, i) => i),
          );
          const exact = await collect(store.iterateResults(a.id, { chunkSize: 5 }));
          assert.equal(exact.length, 25);
          const controls = await collect(store.iterateResults(a.id, { chunkSize: 3, role: "control" }));
          assert.deepEqual(
            controls.map((r) => r.index),
            [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23],
          );
          assert.deepEqual(await collect(store.iterateResults(a.id, { flaggedOnly: true })), []);
        }));
    });

    describe("events", () => {
      it("numbers events per audit from 1 and reads after a seq", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store, "acme", "a");
          const b = await runningAudit(store, "acme", "b");
          assert.equal(await store.appendEvent(a.id, { type: "state", data: { state: "running" } }), 1);
          assert.equal(await store.appendEvent(a.id, { type: "progress", data: { done: 1, total: 3 } }), 2);
          assert.equal(await store.appendEvent(b.id, { type: "state", data: { state: "running" } }), 1);
          assert.equal(await store.appendEvent(a.id, { type: "progress", data: { done: 2, total: 3 } }), 3);

          const events = await store.readEvents(a.id, 0);
          assert.deepEqual(
            events.map((e) => [e.seq, e.type, e.data]),
            [
              [1, "state", { state: "running" }],
              [2, "progress", { done: 1, total: 3 }],
              [3, "progress", { done: 2, total: 3 }],
            ],
          );
          assert.equal(events[0].createdAt, new Date(T0).toISOString());
          assert.deepEqual(
            (await store.readEvents(a.id, 2)).map((e) => e.seq),
            [3],
          );
          assert.deepEqual(
            (await store.readEvents(a.id, 0, 2)).map((e) => e.seq),
            [1, 2],
          );
          assert.deepEqual(await store.readEvents(a.id, 3), []);
        }));

      it("allocates distinct seqs under concurrent appends", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store);
          const seqs = await Promise.all(
            Array.from({ length: 20 }, (_, i) => store.appendEvent(a.id, { type: "progress", data: { i } })),
          );
          assert.deepEqual(
            [...seqs].sort((x, y) => x - y),
            Array.from({ length: 20 }, (_, i) => i + 1),
          );
        }));
    });

    describe("blob ownership and purge", () => {
      it("records blobs per tenant", () =>
        withStore(async ({ store }) => {
          const d = digestOf("model bytes");
          await store.recordBlob({ digest: d, size: 11, tenant: "acme", kind: "model" });
          await store.recordBlob({ digest: d, size: 11, tenant: "acme" });
          assert.equal(await store.tenantHasBlob("acme", d), true);
          // The same digest uploaded by someone else does not make it usable by another tenant.
          assert.equal(await store.tenantHasBlob("globex", d), false);
          await store.recordBlob({ digest: d, size: 11, tenant: "globex" });
          assert.equal(await store.tenantHasBlob("globex", d), true);
          await rejectsWithCode(store.recordBlob({ digest: "sha256:00", size: 1, tenant: "acme" }), "validation_failed");
          await rejectsWithCode(store.recordBlob({ digest: d, size: -1, tenant: "acme" }), "validation_failed");
        }));

      it("finds the inputs only one audit references", () =>
        withStore(async ({ store }) => {
          const shared = await ownedInputs(store, "acme", "shared");
          const own = digestOf("candidates-own");
          await store.recordBlob({ digest: own, size: 5, tenant: "acme" });
          const a = (await store.createAudit({ tenant: "acme", config: {}, inputs: { ...shared, candidates: own } })).audit;
          const b = (await store.createAudit({ tenant: "acme", config: {}, inputs: shared })).audit;
          assert.deepEqual(await store.blobsReferencedOnlyBy(a.id), [own]);
          assert.deepEqual(await store.blobsReferencedOnlyBy(a.id, ["target", "reference"]), []);
          assert.deepEqual(await store.blobsReferencedOnlyBy(b.id, ["candidates"]), [shared.candidates]);
          assert.deepEqual(
            await store.blobsReferencedOnlyBy(b.id),
            [shared.candidates],
          );
          await rejectsWithCode(store.blobsReferencedOnlyBy(a.id, ["weights" as never]), "validation_failed");
        }));

      it("purges inputs: references dropped, ownership forgotten, orphans reported", () =>
        withStore(async ({ store }) => {
          const inputs = await ownedInputs(store, "acme", "p");
          await store.recordBlob({ digest: inputs.candidates, size: 10, tenant: "globex" });
          const a = (await store.createAudit({ tenant: "acme", config: {}, inputs })).audit;

          // Still referenced by acme's audit: ownership stays.
          assert.deepEqual(await store.forgetBlob("acme", inputs.candidates), { forgotten: false, orphaned: false });
          assert.equal(await store.tenantHasBlob("acme", inputs.candidates), true);

          await store.markInputsPurged(a.id, ["candidates", "controls"]);
          const purged = (await store.getAuditInternal(a.id))!;
          assert.equal(purged.inputsPurgedAt, new Date(T0).toISOString());
          assert.deepEqual(purged.inputs, inputs, "the record keeps what was audited");
          assert.deepEqual(await store.blobsReferencedOnlyBy(a.id, ["candidates"]), []);

          // globex uploaded the same bytes itself: acme forgets, the bytes must stay.
          assert.deepEqual(await store.forgetBlob("acme", inputs.candidates), { forgotten: true, orphaned: false });
          assert.equal(await store.tenantHasBlob("acme", inputs.candidates), false);
          assert.equal(await store.tenantHasBlob("globex", inputs.candidates), true);
          assert.deepEqual(await store.forgetBlob("globex", inputs.candidates), { forgotten: true, orphaned: true });

          // The target is still referenced by the audit (not purged): kept.
          assert.deepEqual(await store.forgetBlob("acme", inputs.target), { forgotten: false, orphaned: false });
          await store.deleteAudit("acme", a.id);
          assert.deepEqual(await store.forgetBlob("acme", inputs.target), { forgotten: true, orphaned: true });
        }));

      it("lists finished audits past retention, once", () =>
        withStore(async ({ store, clock }) => {
          const old = await runningAudit(store, "acme", "old");
          const young = await runningAudit(store, "acme", "young");
          const open = await runningAudit(store, "acme", "open");
          await store.transition(old.id, ["running"], "succeeded");
          clock.now = T0 + 2 * HOUR;
          await store.transition(young.id, ["running"], "failed");
          clock.now = T0 + 3 * HOUR;
          assert.deepEqual(
            (await store.listFinishedAuditsOlderThan(2)).map((a) => a.id),
            [old.id],
          );
          assert.deepEqual(
            (await store.listFinishedAuditsOlderThan(0.5)).map((a) => a.id),
            [old.id, young.id],
          );
          assert.deepEqual(await store.listFinishedAuditsOlderThan(3), []);
          await store.markInputsPurged(old.id, ["candidates", "controls"]);
          assert.deepEqual(
            (await store.listFinishedAuditsOlderThan(0.5)).map((a) => a.id),
            [young.id],
          );
          assert.ok(!(await store.listFinishedAuditsOlderThan(0)).some((a) => a.id === open.id), "a running audit is never due");
          await rejectsWithCode(store.listFinishedAuditsOlderThan(-1), "validation_failed");
        }));
    });

    describe("delete", () => {
      it("removes the audit with its results and events", () =>
        withStore(async ({ store }) => {
          const a = await runningAudit(store, "acme", "a");
          const keep = await runningAudit(store, "acme", "keep");
          await store.appendResults(a.id, [row(0), row(1)]);
          await store.appendResults(keep.id, [row(0)]);
          await store.appendEvent(a.id, { type: "progress", data: {} });
          assert.equal(await store.deleteAudit("acme", a.id), true);
          assert.equal(await store.getAudit("acme", a.id), null);
          assert.equal(await store.getAuditInternal(a.id), null);
          assert.equal(await store.countResults(a.id), 0);
          assert.deepEqual(await store.readEvents(a.id, 0), []);
          assert.deepEqual(await store.blobsReferencedOnlyBy(a.id), []);
          assert.equal(await store.deleteAudit("acme", a.id), false);
          assert.equal(await store.countResults(keep.id), 1);
          assert.deepEqual(
            (await store.listAudits("acme", { limit: 10 })).items.map((x) => x.id),
            [keep.id],
          );
        }));
    });

    describe("durability and lifecycle", () => {
      it("keeps everything across a restart", () =>
        withStore(async ({ store, h, clock }) => {
          const { token, id: tokenId } = await store.createToken("acme");
          const a = await runningAudit(store);
          await store.appendResults(a.id, [row(0), row(1), row(2)]);
          await store.finalizeResults(a.id, [{ index: 1, scoreNormalized: 3, pValue: 0.01, flagged: true }]);
          await store.appendEvent(a.id, { type: "progress", data: { done: 3 } });
          await store.transition(a.id, ["running"], "succeeded", { summary: { flagged: 1 } });
          const before = await store.getAuditInternal(a.id);
          const rowsBefore = await collect(store.iterateResults(a.id));

          const reopened = await h.reopen();
          assert.deepEqual(await reopened.getAuditInternal(a.id), before);
          assert.deepEqual(await collect(reopened.iterateResults(a.id)), rowsBefore);
          assert.deepEqual(await reopened.authenticate(token), { tenant: "acme", tokenId });
          assert.deepEqual(
            (await reopened.readEvents(a.id, 0)).map((e) => e.data),
            [{ done: 3 }],
          );
          // Seqs and ids continue after a restart rather than restarting.
          assert.equal(await reopened.appendEvent(a.id, { type: "state", data: {} }), 2);
          clock.now += 1; // a restart takes time: later ids sort after earlier ones
          const b = await newAudit(reopened, "acme", "after");
          assert.ok(b.id > a.id, "ids created after a restart sort after older ones");
        }));

      it("passes its health check, and fails cleanly once closed", () =>
        withStore(async ({ store }) => {
          await store.healthCheck();
          await store.healthCheck();
          await store.close();
          await store.close();
          await rejectsWithCode(store.healthCheck(), "store_failure");
          await rejectsWithCode(store.getAuditInternal("aud_00000000000000000000000000"), "store_failure");
        }));
    });
  });
}
