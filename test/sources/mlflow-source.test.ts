/**
 * `models:/` references against a local server implementing MLflow's REST routes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { resolveSource } from "../../src/sources/resolve.ts";
import { startMlflowServer, type MlflowState } from "../helpers/mlflow-server.ts";
import { sourceFixture, type LocalServer } from "../helpers/sources.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const ENCODER = convNet({ seed: 5, height: 16, width: 16, widths: [4], dim: 8 });
const OTHER = convNet({ seed: 6, height: 16, width: 16, widths: [4], dim: 8 });
const digest = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const enc = (s: string) => new TextEncoder().encode(s);

function code(c: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SslmemError, String(e));
    assert.equal(e.code, c, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe("MLflow references", () => {
  let server: LocalServer;
  const state: MlflowState = {
    token: "mlflow-token",
    models: {
      encoder: {
        versions: [
          { version: "1", source: "mlflow-artifacts:/0/run1/artifacts/model" },
          { version: "2", source: "mlflow-artifacts:/0/run2/artifacts/model" },
          { version: "3", source: "mlflow-artifacts:/0/run3/artifacts/model" },
          { version: "4", source: "mlflow-artifacts:/0/run4/artifacts/model" },
          { version: "5", source: "s3://bucket/0/run5/artifacts/model" },
        ],
        aliases: { champion: "2" },
      },
    },
    artifacts: new Map([
      // v1: an MLmodel with an onnx flavor naming its file
      ["0/run1/artifacts/model/MLmodel", enc("artifact_path: model\nflavors:\n  onnx:\n    data: weights/encoder.onnx\n    onnx_version: 1.16.0\n  python_function:\n    loader_module: mlflow.onnx\n")],
      ["0/run1/artifacts/model/weights/encoder.onnx", ENCODER],
      ["0/run1/artifacts/model/conda.yaml", enc("name: env\n")],
      // v2: no MLmodel flavor, a single .onnx
      ["0/run2/artifacts/model/model.onnx", OTHER],
      ["0/run2/artifacts/model/requirements.txt", enc("onnx\n")],
      // v3: two .onnx files and no flavor
      ["0/run3/artifacts/model/a.onnx", ENCODER],
      ["0/run3/artifacts/model/b.onnx", OTHER],
      // v4: no ONNX at all
      ["0/run4/artifacts/model/MLmodel", enc("flavors:\n  pytorch:\n    model_data: data\n")],
      ["0/run4/artifacts/model/data/model.pth", enc("torch")],
    ]),
  };
  before(async () => {
    server = await startMlflowServer(state);
  });
  after(() => server.close());

  const config = () => ({ mlflowUri: server.url, mlflowToken: "mlflow-token" });

  it("resolves a version: the ONNX file is the MLmodel's onnx flavor", async () => {
    const f = await sourceFixture(config());
    const id = await resolveSource(f.ctx, "models:/encoder/1", { kind: "model" });
    assert.deepEqual(id, {
      uri: "models:/encoder/1",
      scheme: "mlflow",
      resolved: "models:/encoder/1",
      version: "1",
      file: "weights/encoder.onnx",
      digest: digest(ENCODER),
      size: ENCODER.byteLength,
    });
  });

  it("resolves an alias to its version, and a second audit of that version downloads nothing", async () => {
    const f = await sourceFixture(config());
    const id = await resolveSource(f.ctx, "models:/encoder@champion", { kind: "model" });
    assert.equal(id.version, "2");
    assert.equal(id.resolved, "models:/encoder/2");
    assert.equal(id.file, "model.onnx");
    assert.equal(id.digest, digest(OTHER));
    const before = server.requests.length;
    const again = await resolveSource(f.ctx, "models:/encoder@champion", { kind: "model" });
    assert.deepEqual(again, id);
    const asked = server.requests.slice(before);
    assert.deepEqual(asked.map((p) => new URL(p, "http://x").pathname), ["/api/2.0/mlflow/registered-models/alias"], "only the alias is looked up again");
  });

  it("names what is there when the ONNX file is ambiguous or missing", async () => {
    const f = await sourceFixture(config());
    await assert.rejects(resolveSource(f.ctx, "models:/encoder/3", { kind: "model" }), code("source_ambiguous", /a\.onnx, b\.onnx/));
    await assert.rejects(resolveSource(f.ctx, "models:/encoder/4", { kind: "model" }), code("source_not_found", /MLmodel, data\//));
  });

  it("maps missing models, versions and aliases to source_not_found", async () => {
    const f = await sourceFixture(config());
    await assert.rejects(resolveSource(f.ctx, "models:/nope/1", { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, "models:/encoder/9", { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, "models:/encoder@retired", { kind: "model" }), code("source_not_found"));
  });

  it("refuses a wrong token (source_auth_failed) and artifacts outside the proxy", async () => {
    const wrong = await sourceFixture({ mlflowUri: server.url, mlflowToken: "wrong" });
    await assert.rejects(resolveSource(wrong.ctx, "models:/encoder/1", { kind: "model" }), code("source_auth_failed"));
    const f = await sourceFixture(config());
    await assert.rejects(resolveSource(f.ctx, "models:/encoder/5", { kind: "model" }), code("source_invalid", /--serve-artifacts/));
  });

  it("needs SSLMEM_MLFLOW_URI, and only names encoders", async () => {
    const none = await sourceFixture({});
    await assert.rejects(resolveSource(none.ctx, "models:/encoder/1", { kind: "model" }), code("source_invalid", /SSLMEM_MLFLOW_URI/));
    const f = await sourceFixture(config());
    await assert.rejects(resolveSource(f.ctx, "models:/encoder/1", { kind: "data" }), code("source_invalid"));
  });
});
