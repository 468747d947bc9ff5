/**
 * LayerMem on the real fixture encoders (fixtures/make_fixtures.py): the composed graph measures
 * the block outputs on the same views as the representation, in the same run.
 * - the last layer is the representation: its LayerMem equals the plain audit's score (≤ 1e-6),
 *   and asking for layers does not change the plain scores;
 * - the composed graph's layer distances equal the host reference (layer-reference.ts: each
 *   encoder with its layers as outputs, pooling and distances in TypeScript) to 1e-5;
 * - members of the target's training set score higher than non-members in the deeper layers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AuditConfigSchema, type AuditConfigInput } from "../../src/core/audit-config.ts";
import { isSslmemError } from "../../src/core/errors.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { prepareAudit } from "../../src/engine/audit.ts";
import { autoLayerNames } from "../../src/engine/layers.ts";
import { measurePoints, type IndexedMeasurement } from "../../src/engine/measure.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { tempDir } from "../helpers/audit-inputs.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const target = new Uint8Array(readFileSync(join(fixtures, "encoders/target.onnx")));
const reference = new Uint8Array(readFileSync(join(fixtures, "encoders/reference.onnx")));
const PER_GROUP = 40;

/** The first PER_GROUP members and non-members of the fixture candidates. */
function subset(): string {
  const dir = tempDir();
  for (const group of ["member", "nonmember"]) {
    mkdirSync(join(dir, group));
    const names = readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, PER_GROUP);
    for (const n of names) copyFileSync(join(fixtures, "data/candidates", group, n), join(dir, group, n));
  }
  return dir;
}
const candidatesDir = subset();

const base: AuditConfigInput = {
  views: 8,
  seed: 1,
  batchSize: 16,
  preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
};

async function audit(extra: Partial<AuditConfigInput>, pipeline: "auto" | "chained" = "auto"): Promise<{ rows: IndexedMeasurement[]; layers: string[]; mode: string }> {
  const candidates = await openPointSet(candidatesDir);
  const prepared = await prepareAudit({ target, reference, candidates }, AuditConfigSchema.parse({ ...base, ...extra }), { providers: ["cpu"], threads: 2, pipeline });
  try {
    const rows = await measurePoints(prepared.context);
    return { rows, layers: (prepared.context.layers ?? []).map((l) => l.name), mode: prepared.pipeline.mode };
  } finally {
    await prepared.release();
    await candidates.close();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test("auto picks the activation after each conv/linear layer of the plain fixture convnet, then the representation", () => {
  const names = autoLayerNames(fromBinary(ModelProtoSchema, target), "embedding");
  assert.deepEqual(names, [
    "/backbone/backbone.2/Relu_output_0",
    "/backbone/backbone.5/Relu_output_0",
    "/backbone/backbone.8/Relu_output_0",
    "/backbone/backbone.11/Relu_output_0",
    "/backbone/backbone.16/Relu_output_0",
    "embedding",
  ]);
});

test("LayerMem on the fixture encoders: final layer = audit score, graph = host reference, members above non-members in deep layers", async () => {
  const plain = await audit({});
  const layered = await audit({ layers: "auto" });
  assert.equal(layered.mode, "fused");
  assert.equal(layered.layers.length, 6);
  assert.equal(layered.layers.at(-1), "embedding");

  let worstFinal = 0;
  let worstPlain = 0;
  layered.rows.forEach((r, i) => {
    assert.equal(r.id, plain.rows[i].id);
    assert.equal(r.layers?.length, 6);
    worstFinal = Math.max(worstFinal, Math.abs(r.layers!.at(-1)!.score - plain.rows[i].score));
    worstPlain = Math.max(worstPlain, Math.abs(r.score - plain.rows[i].score));
  });
  assert.ok(worstFinal <= 1e-6, `last layer's LayerMem vs the audit score: ${worstFinal}`);
  assert.ok(worstPlain <= 1e-6, `scores with and without layers: ${worstPlain}`);

  const host = await audit({ layers: "auto" }, "chained");
  assert.equal(host.mode, "chained");
  let worstHost = 0;
  layered.rows.forEach((r, i) =>
    r.layers!.forEach((l, j) => {
      const h = host.rows[i].layers![j];
      for (const key of ["score", "stdErr", "alignTarget", "alignReference"] as const) worstHost = Math.max(worstHost, Math.abs(l[key] - h[key]));
    }),
  );
  assert.ok(worstHost <= 1e-5, `composed graph vs host reference, every layer: ${worstHost}`);

  const members = layered.rows.filter((r) => r.id.startsWith("member/"));
  const others = layered.rows.filter((r) => r.id.startsWith("nonmember/"));
  const gap = (j: number) => mean(members.map((r) => r.layers![j].score)) - mean(others.map((r) => r.layers![j].score));
  // The two fully connected layers (16: Relu of the projection MLP's hidden layer, and the
  // representation) separate members from non-members; the conv layers' gaps are an order smaller.
  for (const j of [4, 5]) assert.ok(gap(j) > 0, `layer ${layered.layers[j]}: members' mean LayerMem exceeds non-members' (gap ${gap(j)})`);
  const shallow = Math.max(...[0, 1, 2, 3].map(gap));
  assert.ok(gap(4) > shallow && gap(5) > gap(4), `the member gap grows in the deep layers: ${[0, 1, 2, 3, 4, 5].map((j) => gap(j).toFixed(4)).join(", ")}`);
  if (process.env.SSLMEM_PRINT_DIFFS) console.log({ worstFinal, worstPlain, worstHost, gaps: layered.layers.map((n, j) => [n, gap(j)]) });
});

test("layers the encoders lack, or that do not depend on the image, are refused before any view", async () => {
  for (const [layers, pattern] of [
    [["/backbone/nope"], /no value named/],
    [["backbone.14.weight"], /no value named/],
  ] as const) {
    const candidates = await openPointSet(candidatesDir);
    await assert.rejects(
      prepareAudit({ target, reference, candidates }, AuditConfigSchema.parse({ ...base, layers: [...layers] }), { providers: ["cpu"], threads: 1 }),
      (e: unknown) => isSslmemError(e) && e.code === "invalid_config" && pattern.test(e.message),
    );
    await candidates.close();
  }
});
