import { test } from "node:test";
import assert from "node:assert/strict";
import { createSession, type ModelSession } from "../../src/engine/session.ts";
import { Encoder, inspectEncoder, resolvePreprocessing, type EncoderInfo } from "../../src/engine/encoder.ts";
import { checkCompatible, checkInputsCompatible } from "../../src/engine/compatibility.ts";
import { loadEncoderPair, resolvePairPreprocessing } from "../../src/engine/load-encoders.ts";
import { GraphBuilder } from "../../src/engine/onnx/builder.ts";
import type { ProviderChoice } from "../../src/engine/providers.ts";
import { isSslmemError, type ErrorCode } from "../../src/core/errors.ts";
import {
  convEncoder,
  convEncoderForward,
  nanEncoder,
  randomViews,
  toNhwc,
  tokenEncoder,
  twoInputModel,
  uint8InputModel,
  stampedUnit,
} from "../helpers/tiny-encoders.ts";

const cpu = { providers: ["cpu" as const], intraOpThreads: 1 };
const cpuChoice: ProviderChoice = { requested: ["cpu"], provider: "cpu", executionProviders: ["cpu"], skipped: [] };

function isCode(code: ErrorCode, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(isSslmemError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

async function load(bytes: Uint8Array): Promise<{ session: ModelSession; info: EncoderInfo }> {
  const session = await createSession(bytes, cpu);
  return { session, info: inspectEncoder(session) };
}

/** A model whose input [N,C,H,W] says nothing about where the channels are. */
function symbolicInputModel(): Uint8Array {
  const g = new GraphBuilder("symbolic");
  const x = g.input("pixels", "float", ["N", "C", "H", "W"]);
  g.op1("Flatten", [g.op1("GlobalAveragePool", [x])], { axis: 1 }, "embedding");
  g.output("embedding", "float", ["N", "C"]);
  return stampedUnit(g.toModelBytes());
}

// ---- inspection ------------------------------------------------------------------------------

test("inspection finds the image input, its layout, static size and batch", async () => {
  const nchw = (await load(convEncoder({ height: 12, width: 20 }).bytes)).info;
  assert.deepEqual(nchw.input, { name: "image", dtype: "float32", dims: ["N", 3, 12, 20], layout: "NCHW", batch: null });
  assert.match(nchw.digest, /^sha256:/);
  const nhwc = (await load(convEncoder({ layout: "NHWC", batch: 1 }).bytes)).info;
  assert.deepEqual(nhwc.input, { name: "image", dtype: "float32", dims: [1, 16, 16, 3], layout: "NHWC", batch: 1 });
  assert.equal((await load(symbolicInputModel())).info.input.layout, null);
});

test("inspection refuses models that are not single float32 image encoders", async () => {
  const u8 = await createSession(uint8InputModel(), cpu);
  assert.throws(() => inspectEncoder(u8), isCode("model_unsupported", /"image" uint8\[N,3,16,16\] is not float32/));
  const two = await createSession(twoInputModel(), cpu);
  assert.throws(() => inspectEncoder(two), isCode("model_unsupported", /2 inputs \("image".*"mask"/));
  const g = new GraphBuilder("rank2");
  g.output(g.op1("Relu", [g.input("x", "float", ["N", 3])], {}, "y"), "float", ["N", 3]);
  const rank2 = await createSession(g.toModelBytes(), cpu);
  assert.throws(() => inspectEncoder(rank2), isCode("model_unsupported", /rank 4/));
  const gray = new GraphBuilder("gray");
  const x = gray.input("x", "float", ["N", 1, 8, 8]);
  gray.output(gray.op1("Flatten", [gray.op1("GlobalAveragePool", [x])], { axis: 1 }, "y"), "float", ["N", 1]);
  const oneChannel = await createSession(gray.toModelBytes(), cpu);
  assert.throws(() => inspectEncoder(oneChannel), isCode("model_unsupported", /RGB/));
});

// ---- preprocessing contract ------------------------------------------------------------------

test("static models give size and layout; a stamped preset gives the normalization", async () => {
  const { info } = await load(convEncoder({ height: 12, width: 20 }).bytes); // stamped sslmem.normalize=unit
  const p = resolvePreprocessing(info, {});
  assert.deepEqual(
    { height: p.height, width: p.width, layout: p.layout, range: p.range, mean: p.mean, std: p.std },
    { height: 12, width: 20, layout: "NCHW", range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  );
  assert.deepEqual(p.sources, { inputSize: "model", layout: "shape", range: "model", mean: "model", std: "model" });
  const same = resolvePreprocessing(info, { inputSize: { height: 12, width: 20 } });
  assert.equal(same.height, 12);
  assert.throws(() => resolvePreprocessing(info, { inputSize: { height: 224, width: 224 } }), isCode("invalid_config", /224x224 contradicts.*\[N,3,12,20\]/));
});

test("the normalization is never guessed: an unstamped model without flags is refused, naming the three ways", async () => {
  const { info } = await load(convEncoder({ normalize: false }).bytes);
  assert.throws(() => resolvePreprocessing(info, {}), isCode("preprocessing_required", /--normalize imagenet\|clip\|half\|unit\|none.*--mean a,b,c --std a,b,c.*sslmem stamp/));
  // Any explicit normalization resolves it; parts left out are the identity.
  const imagenet = resolvePreprocessing(info, { normalize: "imagenet" });
  assert.deepEqual([imagenet.range, imagenet.mean, imagenet.std], [[0, 1], [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]]);
  assert.deepEqual([imagenet.sources.mean, imagenet.sources.range], ["override", "override"]);
  const raw = resolvePreprocessing(info, { normalize: "none" });
  assert.deepEqual([raw.range, raw.mean, raw.std], [[0, 255], [0, 0, 0], [1, 1, 1]]);
  const rangeOnly = resolvePreprocessing(info, { range: [-1, 1] });
  assert.deepEqual([rangeOnly.range, rangeOnly.mean, rangeOnly.std, rangeOnly.sources.mean], [[-1, 1], [0, 0, 0], [1, 1, 1], "default"]);
});

test("a preset named in the model's metadata stands for its values; 0–255-scale metadata is refused", async () => {
  const { info } = await load(convEncoder({ metadata: { "sslmem.normalize": "clip" } }).bytes);
  const p = resolvePreprocessing(info, {});
  assert.deepEqual([p.mean, p.std, p.sources.std], [[0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711], "model"]);
  const unknown = createSession(convEncoder({ metadata: { "sslmem.normalize": "vgg" } }).bytes, cpu).then(inspectEncoder);
  await assert.rejects(unknown, isCode("model_invalid", /sslmem\.normalize must be one of imagenet, clip, half, unit, none/));
  const scale = createSession(convEncoder({ metadata: { "sslmem.mean": "123.7,116.3,103.5", "sslmem.std": "0.2,0.2,0.2" } }).bytes, cpu).then(inspectEncoder);
  await assert.rejects(scale, isCode("model_invalid", /0–255 scale.*divide by 255: 0\.4851,0\.4561,0\.4059/));
});

test("a dynamic input size needs --input-size", async () => {
  const { info } = await load(convEncoder({ dynamicHW: true }).bytes);
  assert.throws(() => resolvePreprocessing(info, {}), isCode("preprocessing_required", /--input-size HxW/));
  const p = resolvePreprocessing(info, { inputSize: { height: 24, width: 8 } });
  assert.deepEqual([p.height, p.width, p.sources.inputSize], [24, 8, "override"]);
});

test("an input that hides its channel axis needs --layout, and the layout must fit", async () => {
  const { info } = await load(symbolicInputModel());
  assert.throws(() => resolvePreprocessing(info, { inputSize: { height: 8, width: 8 } }), isCode("preprocessing_required", /--layout NCHW/));
  const p = resolvePreprocessing(info, { inputSize: { height: 8, width: 8 }, layout: "NHWC" });
  assert.equal(p.layout, "NHWC");
  const nchw = (await load(convEncoder().bytes)).info;
  assert.throws(() => resolvePreprocessing(nchw, { layout: "NHWC" }), isCode("invalid_config", /size 16, not 3/));
});

test("model metadata describes its normalization; overrides win over it", async () => {
  const { info } = await load(
    convEncoder({ metadata: { "sslmem.mean": "0.485, 0.456, 0.406", "sslmem.std": "0.229,0.224,0.225", "sslmem.range": "0,255" } }).bytes,
  );
  const p = resolvePreprocessing(info, {});
  assert.deepEqual([p.mean, p.std, p.range], [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225], [0, 255]]);
  assert.deepEqual([p.sources.mean, p.sources.range], ["model", "model"]);
  const o = resolvePreprocessing(info, { mean: [0.5, 0.5, 0.5], range: [-1, 1] });
  assert.deepEqual([o.mean, o.std, o.range], [[0.5, 0.5, 0.5], [0.229, 0.224, 0.225], [-1, 1]]);
  assert.deepEqual([o.sources.mean, o.sources.std], ["override", "model"]);

  const bad = createSession(convEncoder({ metadata: { "sslmem.std": "1,0,1" } }).bytes, cpu).then(inspectEncoder);
  await assert.rejects(bad, isCode("model_invalid", /sslmem\.std must be positive/));
  const short = createSession(convEncoder({ metadata: { "sslmem.mean": "0.5,0.5" } }).bytes, cpu).then(inspectEncoder);
  await assert.rejects(short, isCode("model_invalid", /3 comma-separated numbers/));
});

// ---- embedding -------------------------------------------------------------------------------

test("embed returns the encoder's representation, checked against a plain TypeScript forward pass", async () => {
  const model = convEncoder({ seed: 9, channels: 6, height: 10, width: 12 });
  const { session, info } = await load(model.bytes);
  const encoder = await Encoder.create(session, info, resolvePreprocessing(info, {}));
  assert.equal(encoder.dim, 6);
  assert.deepEqual(encoder.viewShape, [3, 10, 12]);
  const views = randomViews(21, 3, 10, 12);
  const out = await encoder.embed(views, 3);
  assert.equal(out.dim, 6);
  for (let i = 0; i < 3; i++) {
    const expected = convEncoderForward(model.weights, views.subarray(i * 360, (i + 1) * 360), 10, 12);
    expected.forEach((v, j) => assert.ok(Math.abs(out.data[i * 6 + j] - v) < 1e-5, `view ${i} component ${j}`));
  }
  await assert.rejects(encoder.embed(views.subarray(1), 3), isCode("internal"));
});

test("NHWC encoders get views in their layout and agree with the NCHW twin", async () => {
  const views = randomViews(4, 2, 16, 16);
  const a = await load(convEncoder({ seed: 3 }).bytes);
  const b = await load(convEncoder({ seed: 3, layout: "NHWC" }).bytes);
  const nchw = await Encoder.create(a.session, a.info, resolvePreprocessing(a.info));
  const nhwc = await Encoder.create(b.session, b.info, resolvePreprocessing(b.info));
  assert.deepEqual(nhwc.viewShape, [16, 16, 3]);
  const ra = await nchw.embed(views, 2);
  const rb = await nhwc.embed(toNhwc(views, 2, 16, 16), 2);
  ra.data.forEach((v, i) => assert.ok(Math.abs(v - rb.data[i]) < 1e-5));
});

test("a static-batch model runs in chunks, the last one padded, with the same rows", async () => {
  const views = randomViews(8, 5, 16, 16);
  const dynamic = await load(convEncoder({ seed: 6 }).bytes);
  const batch2 = await load(convEncoder({ seed: 6, batch: 2 }).bytes);
  const d = await Encoder.create(dynamic.session, dynamic.info, resolvePreprocessing(dynamic.info));
  const s = await Encoder.create(batch2.session, batch2.info, resolvePreprocessing(batch2.info));
  const rd = await d.embed(views, 5);
  const rs = await s.embed(views, 5);
  assert.equal(rs.data.length, 5 * 8);
  rd.data.forEach((v, i) => assert.ok(Math.abs(v - rs.data[i]) < 1e-5));
});

test("a dynamic output shape is measured by a probe run", async () => {
  const model = tokenEncoder({ dynamicHW: true, patch: 4, channels: 3 });
  const { session, info } = await load(model.bytes);
  assert.deepEqual(info.outputs[0].dims, ["N", "T", 3]);
  const prep = resolvePreprocessing(info, { inputSize: { height: 8, width: 12 } });
  const flat = await Encoder.create(session, info, prep, { pool: "flatten" });
  assert.equal(flat.dim, (1 + 2 * 3) * 3);
  const cls = await Encoder.create(session, info, prep, { pool: "cls" });
  assert.equal(cls.dim, 3);
  assert.equal((await flat.embed(randomViews(1, 2, 8, 12), 2)).data.length, 2 * 21);
});

test("NaN in the output is model_output_invalid", async () => {
  const { session, info } = await load(nanEncoder().bytes);
  const encoder = await Encoder.create(session, info, resolvePreprocessing(info));
  await assert.rejects(encoder.embed(randomViews(2, 2, 16, 16), 2), isCode("model_output_invalid", /NaN \(view 0 of the batch, component 0\)/));
});

// ---- target vs reference ---------------------------------------------------------------------

test("encoders of different widths are incompatible, with both shapes named", async () => {
  const t = await load(convEncoder({ seed: 1, channels: 8 }).bytes);
  const r = await load(convEncoder({ seed: 2, channels: 4 }).bytes);
  const prep = resolvePreprocessing(t.info);
  checkInputsCompatible(t.info, r.info, prep); // same inputs: fine
  const target = await Encoder.create(t.session, t.info, prep);
  const reference = await Encoder.create(r.session, r.info, prep);
  assert.throws(
    () => checkCompatible(target, reference, prep),
    isCode("encoders_incompatible", /target output "embedding" \[N,8\] gives 8 .*reference output "embedding" \[N,4\] gives 4/),
  );
  const w = await load(convEncoder({ seed: 3, channels: 8 }).bytes);
  const twin = await Encoder.create(w.session, w.info, prep);
  checkCompatible(target, twin, prep);
});

test("encoders with different fixed input sizes fail before any embedding", async () => {
  const t = convEncoder({ seed: 1, height: 16, width: 16 }).bytes;
  const r = convEncoder({ seed: 2, height: 32, width: 32 }).bytes;
  await assert.rejects(
    loadEncoderPair(t, r, { providers: cpuChoice, intraOpThreads: 1 }),
    isCode("encoders_incompatible", /reference encoder .*\[N,3,32,32\] does not accept \[N,3,16,16\].*target input \[N,3,16,16\], reference input \[N,3,32,32\]/),
  );
});

test("conflicting normalization metadata is incompatible unless the user decides", async () => {
  const t = convEncoder({ seed: 1, metadata: { "sslmem.mean": "0.5,0.5,0.5" } }).bytes;
  const r = convEncoder({ seed: 2, metadata: { "sslmem.mean": "0.4,0.4,0.4" } }).bytes;
  await assert.rejects(loadEncoderPair(t, r, { providers: cpuChoice }), isCode("encoders_incompatible", /reference encoder declares mean \[0.4, 0.4, 0.4\]/));
  const pair = await loadEncoderPair(t, r, { providers: cpuChoice, preprocessing: { mean: [0.45, 0.45, 0.45] } });
  assert.deepEqual(pair.preprocessing.mean, [0.45, 0.45, 0.45]);
});

test("a dynamic target takes its input size from a fixed reference", async () => {
  const t = await load(convEncoder({ seed: 1, dynamicHW: true }).bytes);
  const r = await load(convEncoder({ seed: 2, height: 24, width: 8 }).bytes);
  const p = resolvePairPreprocessing(t.info, r.info, {});
  assert.deepEqual([p.height, p.width, p.sources.inputSize], [24, 8, "model"]);
  const both = await load(convEncoder({ seed: 2, dynamicHW: true }).bytes);
  assert.throws(() => resolvePairPreprocessing(t.info, both.info, {}), isCode("preprocessing_required", /--input-size/));
});

test("loadEncoderPair: sessions from the cache, one preprocessing, equal widths, embeddings that run", async () => {
  const { SessionCache } = await import("../../src/engine/session.ts");
  const cache = new SessionCache();
  const bytes = convEncoder({ seed: 1, channels: 4 }).bytes;
  const pair = await loadEncoderPair(bytes, convEncoder({ seed: 2, channels: 4 }).bytes, { providers: cpuChoice, cache, intraOpThreads: 1 });
  assert.equal(pair.target.dim, 4);
  assert.equal(pair.reference.dim, 4);
  assert.equal(pair.target.provider, "cpu");
  assert.notEqual(pair.target.info.digest, pair.reference.info.digest);
  const views = randomViews(1, 2, 16, 16);
  const [a, b] = [await pair.target.embed(views, 2), await pair.reference.embed(views, 2)];
  assert.notDeepEqual(Array.from(a.data), Array.from(b.data));
  // the same encoder as target and reference is loaded once
  await loadEncoderPair(bytes, bytes, { providers: cpuChoice, cache, intraOpThreads: 1 });
  assert.equal(cache.size, 2);
  await cache.clear();
});
