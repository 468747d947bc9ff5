import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import {
  assertFinite,
  checkPooling,
  halfToFloat32,
  poolRows,
  selectOutput,
  staticRepresentationDim,
  tensorToFloat32,
} from "../../src/engine/representation.ts";
import { createSession } from "../../src/engine/session.ts";
import { Encoder, inspectEncoder, resolvePreprocessing } from "../../src/engine/encoder.ts";
import type { ValueSummary } from "../../src/engine/onnx/inspect.ts";
import { isSslmemError, type ErrorCode } from "../../src/core/errors.ts";
import { featureMapEncoder, randomViews, stringOutputModel, tokenEncoder, twoOutputEncoder } from "../helpers/tiny-encoders.ts";

const cpu = { providers: ["cpu" as const], intraOpThreads: 1 };

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSslmemError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const tensor = (name: string, dims: ValueSummary["dims"], dtype = "float32"): ValueSummary => ({ name, kind: "tensor", dtype, dims });

// ---- pure pooling, hand-computed -------------------------------------------------------------

test("[N,D] rows are used as they are, whatever the pooling", () => {
  const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
  for (const pool of ["flatten", "mean", "cls"] as const) {
    const r = poolRows(data, [2, 3], pool);
    assert.deepEqual([r.n, r.dim, Array.from(r.data)], [2, 3, [1, 2, 3, 4, 5, 6]]);
  }
});

test("[N,T,D] tokens: flatten, mean over tokens, cls = token 0", () => {
  // two views, three tokens of width two
  const data = Float32Array.from([1, 2, 3, 4, 5, 9, /* view 1 */ -1, 0, 0, 0, 4, 3]);
  const flat = poolRows(data, [2, 3, 2], "flatten");
  assert.deepEqual([flat.dim, Array.from(flat.data)], [6, Array.from(data)]);
  const mean = poolRows(data, [2, 3, 2], "mean");
  assert.deepEqual([mean.dim, Array.from(mean.data)], [2, [3, 5, 1, 1]]);
  const cls = poolRows(data, [2, 3, 2], "cls");
  assert.deepEqual([cls.dim, Array.from(cls.data)], [2, [1, 2, -1, 0]]);
});

test("[N,C,H,W] feature maps: flatten or mean over H,W; cls is refused", () => {
  // one view, two channels of 2×2
  const data = Float32Array.from([1, 2, 3, 6, 0, 0, 0, 8]);
  assert.deepEqual(Array.from(poolRows(data, [1, 2, 2, 2], "mean").data), [3, 2]);
  assert.equal(poolRows(data, [1, 2, 2, 2], "flatten").dim, 8);
  throwsCode(() => poolRows(data, [1, 2, 2, 2], "cls"), "invalid_config", /pool "mean" or "flatten"/);
});

test("ranks other than 2–4 are refused", () => {
  throwsCode(() => poolRows(Float32Array.from([1, 2]), [2], "flatten"), "model_output_invalid", /\[N,D\], \[N,T,D\] or \[N,C,H,W\]/);
  throwsCode(() => checkPooling(tensor("x", ["N", 1, 2, 3, 4]), "mean"), "model_output_invalid");
  checkPooling(tensor("x", null), "cls"); // unknown rank: decided at the probe run
});

test("static representation width from the declared shape", () => {
  assert.equal(staticRepresentationDim(["N", 768], "cls"), 768);
  assert.equal(staticRepresentationDim(["N", 197, 768], "flatten"), 197 * 768);
  assert.equal(staticRepresentationDim(["N", 197, 768], "mean"), 768);
  assert.equal(staticRepresentationDim(["N", 197, 768], "cls"), 768);
  assert.equal(staticRepresentationDim([1, 64, 7, 7], "flatten"), 64 * 49);
  assert.equal(staticRepresentationDim(["N", 64, 7, 7], "mean"), 64);
  assert.equal(staticRepresentationDim(["N", "T", 768], "flatten"), null);
  assert.equal(staticRepresentationDim(["N", "D"], "flatten"), null);
  assert.equal(staticRepresentationDim(null, "flatten"), null);
});

test("output selection: default first, by name, unknown name lists the outputs", () => {
  const outputs = [tensor("embedding", ["N", 4]), tensor("features", ["N", 4, 2, 2]), tensor("label", ["N"], "string")];
  assert.equal(selectOutput(outputs).name, "embedding");
  assert.equal(selectOutput(outputs, "features").name, "features");
  throwsCode(() => selectOutput(outputs, "pooler_output"), "model_output_invalid", /"embedding" float32\[N,4\], "features" float32\[N,4,2,2\]/);
  throwsCode(() => selectOutput(outputs, "label"), "model_output_invalid", /not a numeric tensor.*"embedding", "features"/);
});

test("float16 bits convert exactly", () => {
  const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x0000]);
  const f = halfToFloat32(bits);
  assert.deepEqual(Array.from(f.subarray(0, 7)), [1, -2, 0.333251953125, 2 ** -24, 65504, Infinity, -Infinity]);
  assert.ok(Number.isNaN(f[7]));
  assert.equal(f[8], 0);
});

test("numeric tensors of other types become float32", () => {
  assert.deepEqual(Array.from(tensorToFloat32(new ort.Tensor("int64", BigInt64Array.from([1n, -3n]), [1, 2]))), [1, -3]);
  assert.deepEqual(Array.from(tensorToFloat32(new ort.Tensor("float64", Float64Array.from([0.5, 2]), [1, 2]))), [0.5, 2]);
  assert.deepEqual(Array.from(tensorToFloat32(new ort.Tensor("float16", Uint16Array.from([0x3c00]), [1, 1]))), [1]);
});

test("NaN and Inf are refused with their position", () => {
  assertFinite({ data: Float32Array.from([0, 1, -2, 3]), n: 2, dim: 2 }, "e");
  throwsCode(() => assertFinite({ data: Float32Array.from([0, 1, NaN, 3]), n: 2, dim: 2 }, "e"), "model_output_invalid", /NaN \(view 1 of the batch, component 0\)/);
  throwsCode(() => assertFinite({ data: Float32Array.from([0, -Infinity]), n: 1, dim: 2 }, "e"), "model_output_invalid", /infinite/);
});

// ---- on real sessions ------------------------------------------------------------------------

async function encoderFor(bytes: Uint8Array, options: { pool?: "flatten" | "mean" | "cls"; outputName?: string }) {
  const session = await createSession(bytes, cpu);
  const info = inspectEncoder(session);
  return { session, encoder: await Encoder.create(session, info, resolvePreprocessing(info, {}), options) };
}

test("token encoder: flatten keeps every token, mean averages them, cls takes token 0", async () => {
  const model = tokenEncoder({ height: 8, width: 8, patch: 4, channels: 3 }); // 1 + 4 tokens of width 3
  const views = randomViews(11, 2, 8, 8);
  const { session, encoder: flat } = await encoderFor(model.bytes, { pool: "flatten" });
  const raw = (await session.run({ image: new ort.Tensor("float32", views, [2, 3, 8, 8]) })).tokens.data as Float32Array;
  assert.equal(flat.dim, 15);
  const f = await flat.embed(views, 2);
  assert.deepEqual(Array.from(f.data), Array.from(raw));

  const { encoder: cls } = await encoderFor(model.bytes, { pool: "cls" });
  const c = await cls.embed(views, 2);
  assert.equal(c.dim, 3);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      // the fixture's cls token is the max over the four patch tokens
      const patchMax = Math.max(...[1, 2, 3, 4].map((t) => raw[i * 15 + t * 3 + j]));
      assert.equal(c.data[i * 3 + j], patchMax);
    }
  }
  const { encoder: mean } = await encoderFor(model.bytes, { pool: "mean" });
  const m = await mean.embed(views, 2);
  const expected0 = [0, 1, 2, 3, 4].reduce((s, t) => s + raw[t * 3], 0) / 5;
  assert.ok(Math.abs(m.data[0] - expected0) < 1e-6);
});

test("feature-map encoder: mean over H,W gives one value per channel; cls refused before any run", async () => {
  const model = featureMapEncoder({ height: 8, width: 8, channels: 4 });
  const { encoder } = await encoderFor(model.bytes, { pool: "mean" });
  assert.equal(encoder.dim, 4);
  const r = await encoder.embed(randomViews(3, 3, 8, 8), 3);
  assert.equal(r.data.length, 12);
  assert.ok(r.data.every((v) => v >= 0)); // relu features
  await assert.rejects(encoderFor(model.bytes, { pool: "cls" }), (e: unknown) => isSslmemError(e) && e.code === "invalid_config");
});

test("two outputs: the default is the first; the other is chosen by name", async () => {
  const model = twoOutputEncoder({ height: 8, width: 8, channels: 5 });
  const views = randomViews(5, 2, 8, 8);
  const { encoder: first } = await encoderFor(model.bytes, {});
  const { encoder: features } = await encoderFor(model.bytes, { outputName: "features", pool: "mean" });
  assert.equal(first.output.name, "embedding");
  assert.equal(features.output.name, "features");
  // the embedding is the spatial mean of the features: both roads give the same numbers
  const a = await first.embed(views, 2);
  const b = await features.embed(views, 2);
  assert.equal(a.dim, 5);
  a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]) < 1e-5));
  await assert.rejects(encoderFor(model.bytes, { outputName: "logits" }), /available outputs: "embedding"/);
});

test("a string output cannot be the representation", async () => {
  await assert.rejects(encoderFor(stringOutputModel(), { outputName: "label" }), (e: unknown) => isSslmemError(e) && e.code === "model_output_invalid");
});

test("a spatial output wider than 8192 when flattened needs an explicit --pool; narrower ones default to flatten", async () => {
  // [N, 3, 64, 64] → 12 288 values per image when flattened.
  const wide = featureMapEncoder({ height: 128, width: 128, channels: 3 });
  await assert.rejects(encoderFor(wide.bytes, {}), (e: unknown) => {
    assert.ok(isSslmemError(e) && e.code === "invalid_config");
    assert.match(e.message, /--pool \(config\.pool\) is required: output "features" \[N,3,64,64\] would be flattened to 12288 values per image \(more than 8192\); pass --pool mean/);
    return true;
  });
  assert.equal((await encoderFor(wide.bytes, { pool: "flatten" })).encoder.dim, 12288, "an explicit flatten is honoured");
  assert.equal((await encoderFor(wide.bytes, { pool: "mean" })).encoder.dim, 3);
  // The bound also applies when the shape is only known from the probe run.
  const dynamic = featureMapEncoder({ dynamicHW: true, channels: 3 });
  const session = await createSession(dynamic.bytes, cpu);
  const info = inspectEncoder(session);
  await assert.rejects(Encoder.create(session, info, resolvePreprocessing(info, { inputSize: { height: 128, width: 128 } }), {}), /--pool \(config\.pool\) is required/);
  const narrow = featureMapEncoder({ height: 16, width: 16, channels: 4 });
  const n = (await encoderFor(narrow.bytes, {})).encoder;
  assert.deepEqual([n.dim, n.pool], [256, "flatten"]);
});
