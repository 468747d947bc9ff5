import { test } from "node:test";
import assert from "node:assert/strict";
import { probeProvider, ProviderPreferenceSchema, ProviderSelector, sanitizeOrtMessage, type EngineLogger } from "../../src/engine/providers.ts";
import { isSslmemError } from "../../src/core/errors.ts";

function recordingLogger() {
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  const infos: { obj: Record<string, unknown>; msg?: string }[] = [];
  const logger: EngineLogger = {
    warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
    info: (obj, msg) => void infos.push({ obj: obj as Record<string, unknown>, msg }),
  };
  return { logger, warnings, infos };
}

const cudaWorks = await probeProvider("cuda").then(
  () => true,
  () => false,
);

test("cuda unavailable: [cuda, cpu] falls back to cpu and says so", { skip: cudaWorks && "CUDA works on this machine" }, async () => {
  const { logger, warnings, infos } = recordingLogger();
  const choice = await new ProviderSelector().choose(["cuda", "cpu"], logger);
  assert.equal(choice.provider, "cpu");
  assert.deepEqual(choice.executionProviders, ["cpu"]);
  assert.deepEqual(choice.requested, ["cuda", "cpu"]);
  assert.deepEqual(choice.skipped.map((s) => s.provider), ["cuda"]);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].obj.provider, "cuda");
  assert.equal(warnings[0].obj.fallback, "cpu");
  assert.match(warnings[0].msg ?? "", /cuda unavailable; using cpu/);
  assert.equal(infos.at(-1)?.obj.provider, "cpu");
});

test("auto means cuda then cpu", async () => {
  const choice = await new ProviderSelector().choose("auto");
  assert.deepEqual(choice.requested, ["cuda", "cpu"]);
  assert.equal(choice.provider, cudaWorks ? "cuda" : "cpu");
});

test("the decision is made once per selector and preference", async () => {
  const { logger, warnings, infos } = recordingLogger();
  const selector = new ProviderSelector();
  const first = selector.choose(["cuda", "cpu"], logger);
  const second = selector.choose(["cuda", "cpu", "cuda"], logger);
  assert.equal(first, second);
  await first;
  await selector.choose(["cuda", "cpu"], logger);
  assert.equal(infos.length, 1);
  assert.equal(warnings.length, cudaWorks ? 0 : 1);
});

test("cpu alone needs no fallback", async () => {
  const { logger, warnings } = recordingLogger();
  const choice = await new ProviderSelector().choose(["cpu"], logger);
  assert.equal(choice.provider, "cpu");
  assert.deepEqual(choice.skipped, []);
  assert.equal(warnings.length, 0);
});

test("providers outside this build are skipped without probing", async () => {
  const choice = await new ProviderSelector().choose(["coreml", "cpu"]);
  assert.equal(choice.provider, "cpu");
  assert.deepEqual(choice.skipped, [{ provider: "coreml", reason: "not part of this onnxruntime-node build" }]);
});

test("nothing usable is an engine_failure naming each provider", { skip: cudaWorks && "CUDA works on this machine" }, async () => {
  await assert.rejects(new ProviderSelector().choose(["cuda", "coreml"]), (e: unknown) => {
    assert.ok(isSslmemError(e));
    assert.equal(e.code, "engine_failure");
    assert.match(e.message, /cuda: .*; coreml: not part of this onnxruntime-node build/);
    return true;
  });
});

test("the preference schema accepts auto or a list of known providers", () => {
  assert.equal(ProviderPreferenceSchema.parse("auto"), "auto");
  assert.deepEqual(ProviderPreferenceSchema.parse(["webgpu", "cpu"]), ["webgpu", "cpu"]);
  assert.equal(ProviderPreferenceSchema.safeParse(["gpu"]).success, false);
  assert.equal(ProviderPreferenceSchema.safeParse([]).success, false);
});

test("ORT messages lose paths and colour codes", () => {
  const raw =
    "\u001b[1;31m/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 Failed to load library /work/main/node_modules/x/libfoo.so with error\u001b[m\nsecond line";
  const clean = sanitizeOrtMessage(raw);
  assert.equal(clean, "<path> Failed to load library <path> with error");
});
