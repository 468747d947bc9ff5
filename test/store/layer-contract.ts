/**
 * LayerMem rows as every Store must keep them (run by store-contract.ts on SQLite and PostgreSQL):
 * an audit's layers, and each point's per-layer scores stored with its result row in the same
 * transaction, replaced with it, read back only when asked for, and removed with the audit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SslmemError } from "../../src/core/errors.ts";
import type { LayerDescription } from "../../src/core/layermem.ts";
import type { LayerScore } from "../../src/core/scores.types.ts";
import type { AuditRecord, ResultRow, Store } from "../../src/store/types.ts";
import type { MakeStore, StoreUnderTest } from "./store-contract.ts";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const digest = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

const LAYERS: LayerDescription[] = [
  { name: "/layer1/Relu_output_0", target: "/layer1/Relu_output_0", reference: "/layer1/Relu_output_0", final: false, shape: [8, 4, 4], dim: 128 },
  { name: "a=b", target: "a", reference: "b", final: false, shape: [16], dim: 16 },
  { name: "embedding", target: "embedding", reference: "embedding", final: true, shape: [32], dim: 32 },
];

function layerScore(index: number, layer: number): LayerScore {
  // Distinct, non-round values: a swapped index or layer, or a float4 column, would show.
  return { alignTarget: 0.1 + index / 7 + layer / 11, alignReference: 0.3 + index / 13 + layer / 17, score: index / 19 - layer / 23, stdErr: 0.001 * (index + 1) + layer / 1e4 };
}

function row(index: number, layers = 3, overrides: Partial<ResultRow> = {}): ResultRow {
  return {
    index,
    id: `img/${index}.png`,
    role: index % 4 === 3 ? "control" : "candidate",
    alignTarget: 0.5 + index / 100,
    alignReference: 0.75 + index / 200,
    score: 0.25 - index / 200,
    stdErr: 0.01,
    pairs: 16,
    ...(layers > 0 ? { layers: Array.from({ length: layers }, (_, l) => layerScore(index, l)) } : {}),
    ...overrides,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => e instanceof SslmemError && e.code === code);
}

export function layerContract(name: string, makeStore: MakeStore): void {
  async function withStore(body: (ctx: { store: Store; h: StoreUnderTest }) => Promise<void>) {
    const h = await makeStore({ now: () => T0 });
    try {
      await body({ store: h.store, h });
    } finally {
      await h.dispose();
    }
  }

  async function runningAudit(store: Store, tenant = "acme", tag = "x"): Promise<AuditRecord> {
    const inputs = { target: digest(`t-${tag}`), reference: digest(`r-${tag}`), candidates: digest(`c-${tag}`) };
    for (const d of Object.values(inputs)) await store.recordBlob({ digest: d, size: 10, tenant });
    const audit = (await store.createAudit({ tenant, config: { layers: "auto" }, inputs })).audit;
    assert.equal(await store.transition(audit.id, ["queued"], "running"), true);
    return audit;
  }

  describe(`${name}: LayerMem rows`, () => {
    it("records an audit's layers in order and replaces them when recorded again", () =>
      withStore(async ({ store }) => {
        const a = await runningAudit(store);
        assert.deepEqual(await store.auditLayers(a.id), []);
        await store.recordLayers(a.id, LAYERS);
        assert.deepEqual(await store.auditLayers(a.id), LAYERS);
        // A resumed audit or another shard records the same layers: nothing doubles.
        await store.recordLayers(a.id, LAYERS);
        assert.deepEqual(await store.auditLayers(a.id), LAYERS);
        await store.recordLayers(a.id, LAYERS.slice(1));
        assert.deepEqual(await store.auditLayers(a.id), LAYERS.slice(1));
      }));

    it("records the same layers from concurrent writers (shards starting at once) without a conflict", () =>
      withStore(async ({ store, h }) => {
        const a = await runningAudit(store);
        await Promise.all(Array.from({ length: 6 }, () => store.recordLayers(a.id, LAYERS)));
        assert.deepEqual(await store.auditLayers(a.id), LAYERS);
        assert.equal(await h.auditRows("audit_layers", a.id), 3);
      }));

    it("refuses layers of a deleted audit and layers that would not round-trip", () =>
      withStore(async ({ store }) => {
        const a = await runningAudit(store);
        await rejectsWithCode(store.recordLayers(a.id, [{ ...LAYERS[0], dim: 0 }]), "internal");
        await rejectsWithCode(store.recordLayers(a.id, [{ ...LAYERS[0], name: "" }]), "internal");
        assert.deepEqual(await store.auditLayers(a.id), []);
        await store.deleteAudit("acme", a.id);
        await rejectsWithCode(store.recordLayers(a.id, LAYERS), "not_found");
      }));

    it("stores each point's layer scores with its row and reads them back exactly, only when asked", () =>
      withStore(async ({ store, h }) => {
        const a = await runningAudit(store);
        await store.recordLayers(a.id, LAYERS);
        await store.appendResults(a.id, [row(2), row(0), row(1), row(3)]);
        assert.equal(await h.auditRows("audit_result_layers", a.id), 12);
        const withLayers = await collect(store.iterateResults(a.id, { layers: true, chunkSize: 3 }));
        assert.deepEqual(withLayers, [row(0), row(1), row(2), row(3)]);
        const plain = await collect(store.iterateResults(a.id));
        assert.ok(plain.every((r) => r.layers === undefined));
        assert.deepEqual(plain[1], row(1, 0));
        const filtered = await collect(store.iterateResults(a.id, { layers: true, role: "control" }));
        assert.deepEqual(filtered, [row(3)]);
        const page = await store.readResults(a.id, { limit: 2, layers: true });
        assert.deepEqual(page.items, [row(0), row(1)]);
        const next = await store.readResults(a.id, { limit: 2, layers: true, cursor: page.nextCursor });
        assert.deepEqual(next.items, [row(2), row(3)]);
        await store.finalizeResults(
          a.id,
          [0, 1, 2, 3].map((index) => ({ index, scoreNormalized: index / 4, flagged: index === 2 })),
        );
        const byScore = await store.readResults(a.id, { limit: 4, order: "scoreNormalizedDesc", layers: true });
        assert.deepEqual(
          byScore.items.map((r) => [r.index, r.layers]),
          [3, 2, 1, 0].map((i) => [i, row(i).layers]),
        );
        assert.equal((await store.readResults(a.id, { limit: 4, flaggedOnly: true, layers: true })).items[0].layers?.[2].score, layerScore(2, 2).score);
      }));

    it("replaces a point's layer scores with its row: a re-run never doubles or leaves stale layers", () =>
      withStore(async ({ store, h }) => {
        const a = await runningAudit(store);
        const b = await runningAudit(store, "acme", "b");
        await store.appendResults(a.id, [row(0), row(1)]);
        await store.appendResults(b.id, [row(0, 2, { score: -1 })]);
        const again = row(1, 3, { layers: [layerScore(9, 0), layerScore(9, 1), layerScore(9, 2)] });
        await store.appendResults(a.id, [row(0), again]);
        assert.equal(await h.auditRows("audit_result_layers", a.id), 6);
        await store.appendResults(a.id, [row(0, 1)]);
        assert.equal(await h.auditRows("audit_result_layers", a.id), 4);
        assert.deepEqual(await collect(store.iterateResults(a.id, { layers: true })), [row(0, 1), again]);
        assert.deepEqual(await collect(store.iterateResults(b.id, { layers: true })), [row(0, 2, { score: -1 })]);
      }));

    it("stores no row of a batch whose layer scores would not round-trip", () =>
      withStore(async ({ store, h }) => {
        const a = await runningAudit(store);
        const bad = row(1, 3);
        bad.layers![1] = { ...bad.layers![1], score: Number.NaN };
        await rejectsWithCode(store.appendResults(a.id, [row(0), bad]), "internal");
        assert.equal(await store.countResults(a.id), 0);
        assert.equal(await h.auditRows("audit_result_layers", a.id), 0);
      }));

    it("writes a point's layers in its row's transaction: a batch for a deleted audit leaves nothing", () =>
      withStore(async ({ store, h }) => {
        const a = await runningAudit(store);
        await store.recordLayers(a.id, LAYERS);
        await store.appendResults(a.id, [row(0), row(1)]);
        assert.equal(await h.auditRows("audit_layers", a.id), 3);
        assert.equal(await store.deleteAudit("acme", a.id), true);
        await rejectsWithCode(store.appendResults(a.id, [row(2)]), "not_found");
        for (const table of ["audit_results", "audit_result_layers", "audit_layers"] as const) {
          assert.equal(await h.auditRows(table, a.id), 0, `${table} keeps rows of a deleted audit`);
        }
      }));

    it("counts an audit's layers in the tenant's usage, and frees them with the audit", () =>
      withStore(async ({ store }) => {
        const a = await runningAudit(store, "acme", "a");
        await runningAudit(store, "acme", "b");
        const other = await runningAudit(store, "globex", "c");
        await store.recordLayers(a.id, LAYERS);
        await store.recordLayers(other.id, LAYERS.slice(0, 1));
        assert.deepEqual(await store.tenantUsage("acme"), { blobBytes: 60, audits: 2, layerSets: 3 });
        assert.equal((await store.tenantUsage("globex")).layerSets, 1);
        await store.deleteAudit("acme", a.id);
        assert.deepEqual(await store.tenantUsage("acme"), { blobBytes: 60, audits: 1, layerSets: 0 });
      }));
  });
}
