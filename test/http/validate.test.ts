/**
 * POST /v1/audits:validate on the real server: the resolved contract of a submission, or the very
 * problem the audit would end with — and nothing is queued either way.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { tempDir, writeRandomNpy } from "../helpers/audit-inputs.ts";
import { convEncoder, featureMapEncoder } from "../helpers/tiny-encoders.ts";
import { join } from "node:path";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { writeZip } from "../helpers/data-zip.ts";

describe("POST /v1/audits:validate", () => {
  let server: EngineServer;
  let digests: Record<string, string>;
  before(async () => {
    server = await startEngineServer({ engineThread: "main" });
    const dir = tempDir();
    const a = server.alice;
    digests = {
      stamped: await a.putBlob(convEncoder({ seed: 1, metadata: { "sslmem.normalize": "imagenet" } }).bytes),
      stampedRef: await a.putBlob(convEncoder({ seed: 2, metadata: { "sslmem.normalize": "imagenet" } }).bytes),
      unstamped: await a.putBlob(convEncoder({ seed: 3, normalize: false }).bytes),
      wide: await a.putBlob(featureMapEncoder({ height: 128, width: 128, channels: 3 }).bytes),
      candidates: await a.putBlob(new Uint8Array(readFileSync(writeRandomNpy(dir, "c.npy", 7, 16, 16, 1)))),
      controls: await a.putBlob(new Uint8Array(readFileSync(writeRandomNpy(dir, "k.npy", 5, 16, 16, 2)))),
      fixtureTarget: await a.putBlob(new Uint8Array(readFileSync(new URL("../../fixtures/encoders/target.onnx", import.meta.url)))),
      fixtureReference: await a.putBlob(new Uint8Array(readFileSync(new URL("../../fixtures/encoders/reference.onnx", import.meta.url)))),
    };
    // The fixture target as a TF.js LayersModel, zipped (a blob's format is read from its content).
    await writeLayersModel(new URL("../../fixtures/encoders/target.onnx", import.meta.url).pathname, join(dir, "tfjs"));
    digests.tfjsTarget = await a.putBlob(writeZip(["model.json", "weights.bin"].map((name) => ({ name, data: readFileSync(join(dir, "tfjs", name)) }))));
  });
  after(async () => server?.close());

  const post = (body: unknown, client = () => server.alice) =>
    client().json<Record<string, unknown>>("/v1/audits:validate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("answers the resolved contract, with the source of every preprocessing value, and queues nothing", async () => {
    const r = await post({ target: digests.stamped, reference: digests.stampedRef, candidates: digests.candidates, controls: digests.controls, config: { views: 3 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const v = r.body as { valid: boolean; preprocessing: { mean: number[]; sources: Record<string, string> }; target: { dim: number; pooling: string }; candidates: { count: number }; controls: { count: number }; encoderPasses: number };
    assert.equal(v.valid, true);
    assert.deepEqual(v.preprocessing.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(v.preprocessing.sources, { inputSize: "model", layout: "shape", range: "model", mean: "model", std: "model" });
    assert.deepEqual([v.target.dim, v.target.pooling], [8, "none"]);
    assert.deepEqual([v.candidates.count, v.controls.count, v.encoderPasses], [7, 5, 12 * 6 * 2]);
    const list = await server.alice.json<{ items: unknown[] }>("/v1/audits");
    assert.equal(list.body.items.length, 0, "validation queues nothing");
  });

  it("answers the problem the audit would end with", async () => {
    const unstamped = await post({ target: digests.unstamped, reference: digests.unstamped, candidates: digests.candidates });
    assert.equal(unstamped.status, 422);
    assert.equal(unstamped.body.code, "preprocessing_required");
    assert.match(String(unstamped.body.detail), /--normalize imagenet\|clip\|half\|unit\|none.*config\.preprocessing\.normalize/);
    const ok = await post({ target: digests.unstamped, reference: digests.unstamped, candidates: digests.candidates, config: { preprocessing: { normalize: "unit" } } });
    assert.equal(ok.status, 200);
    const wide = await post({ target: digests.wide, reference: digests.wide, candidates: digests.candidates, config: { preprocessing: { normalize: "unit" } } });
    assert.equal(wide.status, 422);
    assert.match(String(wide.body.detail), /config\.pool is required: output "features" \[N,3,64,64\] would be flattened to 12288 values per image/);
    const scale = await post({ target: digests.stamped, reference: digests.stamped, candidates: digests.candidates, config: { preprocessing: { mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4] } } });
    assert.equal(scale.status, 400);
    assert.deepEqual((scale.body.errors as { path: string }[]).map((e) => e.path).sort(), ["config.preprocessing.mean", "config.preprocessing.std"]);
    const missing = await post({ target: digests.stamped, reference: digests.stamped, candidates: `sha256:${"0".repeat(64)}` });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, "blob_not_found");
    const others = await post({ target: digests.stamped, reference: digests.stamped, candidates: digests.candidates }, () => server.bob);
    assert.equal(others.status, 422, "another tenant's blobs are not visible");
    assert.equal(others.body.code, "blob_not_found");
    const anonymous = await post({ target: digests.stamped, reference: digests.stamped, candidates: digests.candidates }, () => server.anonymous);
    assert.equal(anonymous.status, 401);
  });

  it("resolves config.layers (LayerMem) in both graphs, or answers the engine's error for a name one lacks", async () => {
    const body = (layers: unknown) => ({
      target: digests.fixtureTarget,
      reference: digests.fixtureReference,
      candidates: digests.candidates,
      config: { preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, layers },
    });
    const auto = await post(body("auto"));
    assert.equal(auto.status, 200, JSON.stringify(auto.body));
    const layers = auto.body.layers as { name: string; final: boolean }[];
    assert.equal(layers.length, 6);
    assert.deepEqual(layers.at(-1), { name: "embedding", target: "embedding", reference: "embedding", final: true });
    const named = await post(body([layers[1].name]));
    assert.deepEqual((named.body.layers as { name: string }[]).map((l) => l.name), [layers[1].name, "embedding"], "the representation always comes last");
    const missing = await post(body(["/backbone/missing"]));
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, "invalid_config");
    assert.match(String(missing.body.detail), /layers: the target encoder has no value named "\/backbone\/missing"/);
    const plain = await post(body(undefined));
    assert.equal("layers" in plain.body, false);
  });

  it("checks a TF.js encoder's files and says what only the audit can check", async () => {
    const prep = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const mixed = await post({ target: digests.tfjsTarget, reference: digests.fixtureReference, candidates: digests.candidates, config: { preprocessing: prep } });
    assert.equal(mixed.status, 200, JSON.stringify(mixed.body));
    assert.deepEqual(mixed.body.target, { format: "tfjs", modelFormat: "layers-model", digest: (mixed.body.target as { digest: string }).digest });
    assert.match((mixed.body.target as { digest: string }).digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal((mixed.body.reference as { format: string; dim: number }).format, "onnx");
    assert.equal((mixed.body.deferred as string[]).length, 1);
    const bare = await post({ target: digests.tfjsTarget, reference: digests.tfjsTarget, candidates: digests.candidates });
    assert.equal(bare.status, 422, "a TF.js pair declares no normalization: never guessed");
    assert.equal(bare.body.code, "preprocessing_required");
    const layers = await post({ target: digests.tfjsTarget, reference: digests.fixtureReference, candidates: digests.candidates, config: { preprocessing: prep, layers: "auto" } });
    assert.equal(layers.status, 422);
    assert.equal(layers.body.code, "invalid_config");
    const reference = await post({ target: "oci://registry.example/models/f:1", reference: digests.fixtureReference, candidates: digests.candidates });
    assert.equal(reference.status, 400);
    assert.deepEqual((reference.body.errors as { path: string }[]).map((e) => e.path), ["target"]);
  });

  it("validates a UnitMem audit: its encoder, the layers whose units it scores, the candidates", async () => {
    const body = (extra: Record<string, unknown>) => ({ kind: "unitmem", candidates: digests.candidates, ...extra });
    const ok = await post(body({ encoder: digests.fixtureTarget, config: { views: 5, preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } } }));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const v = ok.body as { kind: string; layers: string[]; encoder: { format: string; pooling: string }; candidates: { count: number }; encoderPasses: number };
    assert.equal(v.kind, "unitmem");
    assert.equal(v.layers.length, 6);
    assert.equal(v.layers.at(-1), "embedding");
    assert.deepEqual([v.encoder.format, v.candidates.count, v.encoderPasses], ["onnx", 7, 7 * 5]);
    const unnormalized = await post(body({ encoder: digests.unstamped }));
    assert.equal(unnormalized.body.code, "preprocessing_required");
    const tfjs = await post(body({ encoder: digests.tfjsTarget }));
    assert.equal(tfjs.status, 422);
    assert.equal(tfjs.body.code, "model_unsupported");
    const missingLayer = await post(body({ encoder: digests.fixtureTarget, config: { layers: ["/nowhere"], preprocessing: { normalize: "unit" } } }));
    assert.equal(missingLayer.body.code, "invalid_config");
    const withReference = await post(body({ encoder: digests.fixtureTarget, reference: digests.fixtureReference }));
    assert.equal(withReference.status, 400);
  });
});
