/**
 * UnitMem audits in the store, as every Store must keep them (run by store-contract.ts on SQLite
 * and PostgreSQL): the audit's kind and its inputs (one encoder, no reference), and the per-unit
 * rows — upserted by index, paged in index order and by UnitMem, filtered by layer, and purged
 * with the audit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SslmemError } from "../../src/core/errors.ts";
import type { Store } from "../../src/store/types.ts";
import type { UnitResult } from "../../src/store/unit-result-types.ts";
import type { MakeStore } from "./store-contract.ts";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const digest = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`;

function unit(index: number, overrides: Partial<UnitResult> = {}): UnitResult {
  return {
    index,
    layer: index < 4 ? "stage1/relu" : "stage2/relu",
    unit: index < 4 ? index : index - 4,
    // Distinct values, not in index order: 0.1, 0.8, 0.3, 0.6, 0.5, 0.2 …
    unitMem: [0.1, 0.8, 0.3, 0.6, 0.5, 0.2][index % 6] + Math.floor(index / 6) / 100,
    point: `img/${index % 3}.png`,
    muMax: 1 + index,
    muOthers: 0.5 + index / 1000,
    ...overrides,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const rejectsWithCode = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SslmemError, `expected SslmemError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });

export function unitResultsContract(name: string, makeStore: MakeStore): void {
  async function withStore(body: (store: Store) => Promise<void>) {
    const h = await makeStore({ now: () => T0 });
    try {
      await body(h.store);
    } finally {
      await h.dispose();
    }
  }

  async function unitAudit(store: Store, tenant = "acme"): Promise<string> {
    const inputs = { target: digest(`encoder-${tenant}`), candidates: digest(`candidates-${tenant}`) };
    for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 10, tenant });
    const { audit } = await store.createAudit({ tenant, kind: "unitmem", config: { views: 4 }, inputs });
    return audit.id;
  }

  describe(`${name}: UnitMem audits`, () => {
    it("stores the kind (sslmem by default) and a UnitMem audit's one encoder without a reference", () =>
      withStore(async (store) => {
        const id = await unitAudit(store);
        const audit = await store.getAudit("acme", id);
        assert.equal(audit?.kind, "unitmem");
        assert.equal(audit?.inputs.reference, undefined);
        assert.equal((await store.listAudits("acme", { limit: 10 })).items[0].kind, "unitmem");
        const sslmemInputs = { target: digest("t"), reference: digest("r"), candidates: digest("c") };
        for (const d of Object.values(sslmemInputs)) await store.recordBlob({ digest: d, size: 1, tenant: "acme" });
        const plain = await store.createAudit({ tenant: "acme", config: {}, inputs: sslmemInputs });
        assert.equal(plain.audit.kind, "sslmem");
      }));

    it("refuses a UnitMem audit with a reference and an SSLMem audit without one", () =>
      withStore(async (store) => {
        const inputs = { target: digest("t"), reference: digest("r"), candidates: digest("c") };
        for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 1, tenant: "acme" });
        await rejectsWithCode(store.createAudit({ tenant: "acme", kind: "unitmem", config: {}, inputs }), "validation_failed");
        await rejectsWithCode(store.createAudit({ tenant: "acme", config: {}, inputs: { target: inputs.target, candidates: inputs.candidates } }), "validation_failed");
        assert.equal((await store.listAudits("acme", { limit: 10 })).items.length, 0);
      }));

    it("upserts unit rows by index and pages them in index order, by UnitMem and by layer", () =>
      withStore(async (store) => {
        const id = await unitAudit(store);
        const rows = Array.from({ length: 10 }, (_, i) => unit(i));
        await store.appendUnitResults(id, rows.slice(0, 6));
        await store.appendUnitResults(id, rows.slice(4)); // overlap: rewritten, not duplicated
        await store.appendUnitResults(id, [unit(2, { unitMem: 0.95, point: "img/planted.png" })]);
        const expected = rows.map((r) => (r.index === 2 ? { ...r, unitMem: 0.95, point: "img/planted.png" } : r));
        assert.equal(await store.countUnitResults(id), 10);
        assert.deepEqual(await collect(store.iterateUnitResults(id, { chunkSize: 3 })), expected);

        const first = await store.readUnitResults(id, { limit: 4 });
        assert.deepEqual(first.items, expected.slice(0, 4));
        const second = await store.readUnitResults(id, { limit: 4, cursor: first.nextCursor });
        assert.deepEqual(second.items, expected.slice(4, 8));
        const last = await store.readUnitResults(id, { limit: 4, cursor: second.nextCursor });
        assert.deepEqual(last.items, expected.slice(8));
        assert.equal(last.nextCursor, null);

        const byUnitMem = [...expected].sort((a, b) => b.unitMem - a.unitMem || a.index - b.index);
        const top = await store.readUnitResults(id, { limit: 3, order: "unitMemDesc" });
        assert.deepEqual(top.items, byUnitMem.slice(0, 3));
        assert.equal(top.items[0].point, "img/planted.png");
        const rest = await store.readUnitResults(id, { limit: 10, order: "unitMemDesc", cursor: top.nextCursor });
        assert.deepEqual(rest.items, byUnitMem.slice(3));

        const layer = await store.readUnitResults(id, { limit: 100, layer: "stage2/relu" });
        assert.deepEqual(layer.items, expected.filter((r) => r.layer === "stage2/relu"));
        assert.deepEqual(await collect(store.iterateUnitResults(id, { layer: "stage1/relu" })), expected.slice(0, 4));
      }));

    it("refuses non-finite values and bad cursors, and rows of a deleted audit", () =>
      withStore(async (store) => {
        const id = await unitAudit(store);
        await rejectsWithCode(store.appendUnitResults(id, [unit(0, { unitMem: Number.NaN })]), "internal");
        await rejectsWithCode(store.readUnitResults(id, { limit: 2, cursor: "o.1" }), "validation_failed");
        await rejectsWithCode(store.readUnitResults(id, { limit: 2, order: "unitMemDesc", cursor: "i.1" }), "validation_failed");
        assert.equal(await store.countUnitResults(id), 0);
        await store.appendUnitResults(id, [unit(0), unit(1)]);
        assert.equal(await store.deleteAudit("acme", id), true);
        assert.equal(await store.countUnitResults(id), 0, "the rows went with the audit");
        await rejectsWithCode(store.appendUnitResults(id, [unit(0)]), "not_found");
      }));

    it("counts a UnitMem audit in the tenant's usage and purges its inputs like any audit", () =>
      withStore(async (store) => {
        const id = await unitAudit(store);
        // One audit; its unit rows are bounded by the encoder (not the data), so they add no quota unit.
        assert.deepEqual(await store.tenantUsage("acme"), { blobBytes: 20, audits: 1, layerSets: 0 });
        assert.deepEqual(await store.blobsReferencedOnlyBy(id, ["candidates"]), [digest("candidates-acme")]);
        await store.markInputsPurged(id, ["candidates"]);
        assert.notEqual((await store.getAudit("acme", id))?.inputsPurgedAt, null);
      }));
  });
}
