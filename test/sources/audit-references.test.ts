/**
 * References end to end with the real engine: an oci:// target in a real registry, a
 * models:/…@alias reference encoder on a local MLflow API, https://…#sha256= candidates and
 * hf://…@main controls, audited through the HTTP API (resolved at submission, identities in the
 * report) and through the CLI's local mode (same resolvers, cached: the second run fetches no
 * artifact). Failures are problems with stable codes naming the field, and create no audit.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { runLocalAudit } from "../../src/cli/audit-command.ts";
import { sha256Digest, pushArtifact, registryAvailable, startRegistry, type TestRegistry } from "../helpers/oci-registry.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { startHfServer } from "../helpers/hf-server.ts";
import { startMlflowServer } from "../helpers/mlflow-server.ts";
import { localServer, type LocalServer } from "../helpers/sources.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";

const skip = registryAvailable() || process.env.CI ? false : "docker-registry is not installed (scripts/ci-services.sh installs it)";
const HF_COMMIT = "a".repeat(40);

describe("audits of referenced models and data", { skip }, () => {
  let registry: TestRegistry;
  let mlflow: LocalServer;
  let hf: LocalServer;
  let files: LocalServer;
  let server: EngineServer;
  let manifestDigest: string;
  let inputs: { target: string; reference: string; candidates: string; controls: string };
  let bytes: { target: Uint8Array; reference: Uint8Array; candidates: Uint8Array; controls: Uint8Array };

  before(async () => {
    const work = tempDir();
    const enc = writeTinyEncoderPair(work);
    bytes = {
      target: enc.targetBytes,
      reference: enc.referenceBytes,
      candidates: readFileSync(writeRandomNpy(work, "candidates.npy", 6, 16, 16, 1)),
      controls: readFileSync(writeRandomNpy(work, "controls.npy", 10, 16, 16, 2)),
    };
    registry = await startRegistry();
    ({ manifestDigest } = await pushArtifact(registry.url, "acme/encoder", "rc1", {
      artifactType: "application/vnd.cncf.model.manifest.v1+json",
      configMediaType: "application/vnd.cncf.model.config.v1+json",
      layers: [{ mediaType: "application/vnd.cncf.model.weight.v1.raw", data: bytes.target, title: "encoder.onnx" }],
    }));
    mlflow = await startMlflowServer({
      models: { baseline: { versions: [{ version: "7", source: "mlflow-artifacts:/1/r7/artifacts/model" }], aliases: { production: "7" } } },
      artifacts: new Map([["1/r7/artifacts/model/model.onnx", bytes.reference]]),
    });
    hf = await startHfServer({ repos: { "acme/holdout": { refs: { main: HF_COMMIT }, commits: { [HF_COMMIT]: { "controls.npy": bytes.controls } }, lfs: new Set(["controls.npy"]) } } });
    files = await localServer((req, res) => {
      if (req.url === "/data/candidates.npy") res.end(bytes.candidates);
      else res.writeHead(404).end();
    });
    inputs = {
      target: `oci://${registry.host}/acme/encoder:rc1`,
      reference: "models:/baseline@production",
      candidates: `${files.url}/data/candidates.npy#sha256=${sha256Digest(bytes.candidates).slice(7)}`,
      controls: "hf://acme/holdout/controls.npy@main",
    };
    server = await startEngineServer({
      config: { sources: { allow: [registry.host, files.host], mlflowUri: mlflow.url, hfEndpoint: hf.url } },
    });
  });
  after(async () => {
    await server?.close();
    await Promise.all([registry?.stop(), mlflow?.close(), hf?.close(), files?.close()]);
  });

  it("the API resolves the references at submission and the report records their identities", async () => {
    const submitted = await server.alice.submit({ ...inputs, config: { views: 2, seed: 1 } });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const done = await server.alice.waitFor(submitted.body.id);
    assert.equal(done.state, "succeeded", JSON.stringify(done));
    const report = (await server.alice.json<{ audit: Record<string, any> }>(`/v1/audits/${done.id}/report?format=json`, { headers: { accept: "application/json" } })).body;
    const sources = report.audit.sources;
    assert.equal(sources.target.resolved, `oci://${registry.host}/acme/encoder@${manifestDigest}`);
    assert.equal(sources.target.digest, sha256Digest(bytes.target));
    assert.equal(report.audit.target.digest, sha256Digest(bytes.target), "the audited encoder is the resolved one");
    assert.equal(sources.reference.resolved, "models:/baseline/7");
    assert.equal(sources.reference.digest, report.audit.reference.digest);
    assert.equal(sources.candidates.digest, sha256Digest(bytes.candidates));
    assert.equal(sources.controls.commit, HF_COMMIT);
    assert.equal(sources.controls.digest, sha256Digest(bytes.controls));
    // The resolved blobs are the tenant's, like uploads: HEAD finds them.
    assert.equal((await server.alice.request(`/v1/blobs/${sources.target.digest}`, { method: "HEAD" })).status, 200);
  });

  it("a failing reference is a 422 problem naming the field, and no audit is created", async () => {
    const before = (await server.alice.json<{ items: unknown[] }>("/v1/audits")).body.items.length;
    const missing = await server.alice.submit({ ...inputs, target: `oci://${registry.host}/acme/encoder:nope` });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, "source_not_found");
    assert.deepEqual((missing.body.errors as { path: string }[]).map((e) => e.path), ["target"]);
    const tampered = await server.alice.submit({ ...inputs, candidates: `${files.url}/data/candidates.npy#sha256=${"0".repeat(64)}` });
    assert.equal(tampered.body.code, "digest_mismatch");
    const unpinned = await server.alice.submit({ ...inputs, candidates: `${files.url}/data/candidates.npy` });
    assert.equal(unpinned.body.code, "source_invalid");
    assert.equal((await server.alice.json<{ items: unknown[] }>("/v1/audits")).body.items.length, before);
  });

  it("the API refuses hosts off the allowlist and the metadata address even when it is listed", async () => {
    const off = await server.alice.submit({ ...inputs, candidates: `https://files.example.org/c.npy#sha256=${"1".repeat(64)}` });
    assert.equal(off.status, 422);
    assert.equal(off.body.code, "source_not_allowed");
    const meta = await startEngineServer({ config: { sources: { allow: ["169.254.169.254"] } } });
    try {
      const r = await meta.alice.submit({ ...inputs, target: `http://169.254.169.254/latest/meta-data/model.onnx#sha256=${"1".repeat(64)}` });
      assert.equal(r.status, 422);
      assert.equal(r.body.code, "source_not_allowed");
      assert.match(String(r.body.detail), /link-local/);
    } finally {
      await meta.close();
    }
  });

  it("the CLI's local mode audits the same references and caches them: the second run fetches no artifact", async () => {
    const cache = tempDir("sslmem-cli-cache-");
    const env = { SSLMEM_CACHE_DIR: cache, SSLMEM_MLFLOW_URI: mlflow.url, SSLMEM_HF_ENDPOINT: hf.url };
    const argv = ["--target", inputs.target, "--reference", inputs.reference, "--candidates", inputs.candidates, "--controls", inputs.controls, "--views", "2", "--providers", "cpu", "-q"];
    const cmd = parseAuditCommand(argv);
    assert.notEqual(cmd, "help");
    if (cmd === "help") return;
    const report = await runLocalAudit(cmd, env);
    assert.equal(report.audit.sources?.target?.manifestDigest, manifestDigest);
    assert.equal(report.audit.sources?.reference?.version, "7");
    assert.equal(report.summary.candidates, 6);
    assert.equal(report.summary.controls, 10);
    const fetched = { files: files.requests.length, mlflow: mlflow.requests.filter((p) => p.includes("mlflow-artifacts")).length, hf: hf.requests.filter((p) => p.includes("/resolve/") || p.includes("/cdn/")).length };
    const again = await runLocalAudit(cmd, env);
    assert.deepEqual(again.audit.sources, report.audit.sources);
    assert.deepEqual(
      { files: files.requests.length, mlflow: mlflow.requests.filter((p) => p.includes("mlflow-artifacts")).length, hf: hf.requests.filter((p) => p.includes("/resolve/") || p.includes("/cdn/")).length },
      fetched,
    );
    assert.ok(join(cache, "blobs"));
  });
});
