/**
 * `hf://` references through @huggingface/hub against a local server implementing the Hub's
 * revision and resolve routes (pointed at through the endpoint setting).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { resolveSource } from "../../src/sources/resolve.ts";
import { startHfServer, type HfState } from "../helpers/hf-server.ts";
import { sourceFixture, type LocalServer } from "../helpers/sources.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const V1 = convNet({ seed: 7, height: 16, width: 16, widths: [4], dim: 8 });
const V2 = convNet({ seed: 8, height: 16, width: 16, widths: [4], dim: 8 });
const OLD = "1".repeat(40);
const NEW = "2".repeat(40);
const digest = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function code(c: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SslmemError, String(e));
    assert.equal(e.code, c, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe("Hugging Face references", () => {
  let server: LocalServer;
  const state: HfState = {
    token: "hf_test",
    repos: {
      "acme/ssl-encoder": {
        refs: { main: NEW, "v1.0": OLD },
        commits: {
          [OLD]: { "onnx/model.onnx": V1, "config.json": new TextEncoder().encode("{}") },
          [NEW]: { "onnx/model.onnx": V2, "config.json": new TextEncoder().encode("{}") },
        },
        lfs: new Set(["onnx/model.onnx"]),
      },
    },
  };
  before(async () => {
    server = await startHfServer(state);
  });
  after(() => server.close());
  const config = () => ({ hfEndpoint: server.url, hfToken: "hf_test" });

  it("resolves a tag to its full commit sha and verifies the LFS file against its sha256", async () => {
    const f = await sourceFixture(config());
    const id = await resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/model.onnx@v1.0", { kind: "model" });
    assert.deepEqual(id, {
      uri: "hf://acme/ssl-encoder/onnx/model.onnx@v1.0",
      scheme: "hf",
      resolved: `hf://acme/ssl-encoder/onnx/model.onnx@${OLD}`,
      commit: OLD,
      file: "onnx/model.onnx",
      digest: digest(V1),
      size: V1.byteLength,
    });
  });

  it("resolves a branch (default main); a second audit of the same commit downloads nothing", async () => {
    const f = await sourceFixture(config());
    const id = await resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/model.onnx", { kind: "model" });
    assert.equal(id.commit, NEW);
    assert.equal(id.digest, digest(V2));
    const before = server.requests.length;
    assert.deepEqual(await resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/model.onnx@main", { kind: "model" }), { ...id, uri: "hf://acme/ssl-encoder/onnx/model.onnx@main" });
    const asked = server.requests.slice(before).map((p) => new URL(p, "http://x").pathname);
    assert.deepEqual(asked, ["/api/models/acme/ssl-encoder/revision/main"], "only the branch is resolved again");
  });

  it("maps missing repos, revisions and files to source_not_found, and a bad token to source_auth_failed", async () => {
    const f = await sourceFixture(config());
    await assert.rejects(resolveSource(f.ctx, "hf://acme/nothing/model.onnx@main", { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/model.onnx@v9", { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/missing.onnx@main", { kind: "model" }), code("source_not_found", /missing\.onnx/));
    const bad = await sourceFixture({ hfEndpoint: server.url, hfToken: "hf_wrong" });
    await assert.rejects(resolveSource(bad.ctx, "hf://acme/ssl-encoder/onnx/model.onnx@main", { kind: "model" }), code("source_auth_failed"));
  });

  it("refuses bytes that do not match the LFS sha256 (digest_mismatch)", async () => {
    const f = await sourceFixture(config());
    state.tamper = true;
    try {
      await assert.rejects(resolveSource(f.ctx, "hf://acme/ssl-encoder/onnx/model.onnx@v1.0", { kind: "model" }), code("digest_mismatch"));
    } finally {
      state.tamper = false;
    }
    assert.equal(await f.blobs.has(digest(V1)), false);
  });
});
