import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { createSession, modelDigest, SessionCache } from "../../src/engine/session.ts";
import { isSslmemError, type ErrorCode } from "../../src/core/errors.ts";
import { convEncoder, customDomainModel, externalDataModel, unknownOpModel } from "../helpers/tiny-encoders.ts";

const cpu = { providers: ["cpu" as const], intraOpThreads: 1 };

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSslmemError(e), `expected SslmemError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\/onnxruntime_src|\/work\/|node_modules/);
    return true;
  });
}

test("creates a session that runs, with digest, provider and inspection attached", async () => {
  const { bytes } = convEncoder({ channels: 3, height: 4, width: 4 });
  const s = await createSession(bytes, cpu);
  assert.match(s.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(s.digest, modelDigest(bytes));
  assert.equal(s.provider, "cpu");
  assert.deepEqual(s.model.outputs.map((o) => o.name), ["embedding"]);
  const out = await s.run({ image: new ort.Tensor("float32", new Float32Array(2 * 48), [2, 3, 4, 4]) });
  assert.deepEqual(out.embedding.dims, [2, 3]);
  await s.release();
});

test("maps load failures to model codes", async () => {
  await rejectsCode(createSession(new Uint8Array(0), cpu), "model_invalid");
  await rejectsCode(createSession(convEncoder().bytes.subarray(0, 200), cpu), "model_invalid");
  await rejectsCode(createSession(unknownOpModel(), cpu), "model_unsupported", /No Op registered for NotAnOnnxOp/);
  await rejectsCode(createSession(customDomainModel(), cpu), "model_unsupported", /custom operator domain/);
});

test("refuses external data with its own message, not ORT's (ORT is never called)", async () => {
  await rejectsCode(
    createSession(externalDataModel("../../etc/passwd"), cpu),
    "model_unsupported",
    /^external data is not supported; export with all weights inside the file$/,
  );
});

test("run-time failures are engine_failure without paths", async () => {
  const s = await createSession(convEncoder({ height: 4, width: 4 }).bytes, cpu);
  await rejectsCode(s.run({ image: new ort.Tensor("float32", new Float32Array(2 * 4 * 16), [2, 4, 4, 4]) }), "engine_failure", /invalid dimensions/);
  await s.release();
});

test("the cache reuses the session of the same model and keeps no failures", async () => {
  const cache = new SessionCache();
  const a = convEncoder({ seed: 1 }).bytes;
  const s1 = await cache.get(a, cpu);
  const s2 = await cache.get(Uint8Array.from(a), cpu); // same content, another buffer
  assert.equal(s1, s2);
  const other = await cache.get(convEncoder({ seed: 2 }).bytes, cpu);
  assert.notEqual(other, s1);
  assert.notEqual(other.digest, s1.digest);
  assert.equal(cache.size, 2);

  await assert.rejects(cache.get(unknownOpModel(), cpu));
  assert.equal(cache.size, 2);

  // A caller releasing a shared session must not break the others.
  await s1.release();
  const out = await s2.run({ image: new ort.Tensor("float32", new Float32Array(3 * 256), [1, 3, 16, 16]) });
  assert.deepEqual(out.embedding.dims, [1, 8]);

  await cache.clear();
  assert.equal(cache.size, 0);
  assert.notEqual(await cache.get(a, cpu), s1);
  await cache.clear();
});
