/**
 * `oci://` references against a real registry (Debian's docker-registry, distribution 2.8) on
 * 127.0.0.1: CNCF ModelPack, KitOps ModelKit and plain ORAS artifacts pushed with the OCI API,
 * the bearer-token flow against the registry's `auth: token`, and a proxy in front of the
 * registry that answers 500, stalls, or sends other bytes than the manifest pins.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { resolveSource } from "../../src/sources/resolve.ts";
import { writeTar, writeTarGz } from "../helpers/data-tar.ts";
import { encodePng } from "../helpers/data-png.ts";
import { pushArtifact, registryAvailable, sha256Digest, startRegistry, type TestRegistry } from "../helpers/oci-registry.ts";
import { startTokenService, type TokenService } from "../helpers/registry-token-server.ts";
import { localServer, sourceFixture, type LocalServer } from "../helpers/sources.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const MODELPACK = "application/vnd.cncf.model.manifest.v1+json";
const ENCODER = convNet({ seed: 3, height: 16, width: 16, widths: [4], dim: 8 });
const SECOND = convNet({ seed: 4, height: 16, width: 16, widths: [4], dim: 8 });
const enc = (s: string) => new TextEncoder().encode(s);

function code(c: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SslmemError, String(e));
    assert.equal(e.code, c, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

const skip = registryAvailable() || process.env.CI ? false : "docker-registry is not installed (scripts/ci-services.sh installs it)";

describe("OCI references against a real registry", { skip }, () => {
  let registry: TestRegistry;
  let modelpack: { manifestDigest: string };
  before(async () => {
    registry = await startRegistry();
    modelpack = await pushArtifact(registry.url, "acme/ssl-encoder", "v1", {
      artifactType: MODELPACK,
      configMediaType: "application/vnd.cncf.model.config.v1+json",
      layers: [
        { mediaType: "application/vnd.cncf.model.weight.v1.raw", data: ENCODER, title: "encoder.onnx" },
        { mediaType: "application/vnd.cncf.model.doc.v1.raw", data: enc("# model card"), title: "README.md" },
      ],
    });
    await pushArtifact(registry.url, "acme/oras-encoder", "latest", {
      artifactType: "application/vnd.acme.encoder.v1",
      configMediaType: "application/vnd.oci.empty.v1+json",
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", data: enc("{}"), title: "config.json" },
        { mediaType: "application/octet-stream", data: SECOND, title: "encoder.onnx" },
      ],
    });
    const images = writeTar([0, 1, 2].map((i) => ({ name: `images/${i}.png`, data: encodePng({ width: 8, height: 8, colorType: 2, samples: Array.from({ length: 8 * 8 * 3 }, (_, k) => (k * 7 + i * 31) % 256) }) })));
    await pushArtifact(registry.url, "acme/modelkit", "v2", {
      configMediaType: "application/vnd.kitops.modelkit.config.v1+json",
      layers: [
        { mediaType: "application/vnd.kitops.modelkit.model.v1.tar+gzip", data: writeTarGz([{ name: "model/encoder.onnx", data: ENCODER }, { name: "model/NOTES.txt", data: enc("x") }]) },
        { mediaType: "application/vnd.kitops.modelkit.dataset.v1.tar", data: images },
      ],
    });
    await pushArtifact(registry.url, "acme/two-models", "v1", {
      artifactType: MODELPACK,
      configMediaType: "application/vnd.cncf.model.config.v1+json",
      layers: [
        { mediaType: "application/vnd.cncf.model.weight.v1.raw", data: ENCODER, title: "a.onnx" },
        { mediaType: "application/vnd.cncf.model.weight.v1.raw", data: SECOND, title: "b.onnx" },
      ],
    });
  });
  after(() => registry?.stop());

  it("resolves a ModelPack tag to its manifest digest and fetches the weight layer", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    const uri = `oci://${registry.host}/acme/ssl-encoder:v1`;
    const id = await resolveSource(f.ctx, uri, { kind: "model" });
    assert.deepEqual(id, {
      uri,
      scheme: "oci",
      resolved: `oci://${registry.host}/acme/ssl-encoder@${modelpack.manifestDigest}`,
      manifestDigest: modelpack.manifestDigest,
      file: "encoder.onnx",
      digest: sha256Digest(ENCODER),
      size: ENCODER.byteLength,
    });
  });

  it("a second audit of the same version downloads no layer", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    const uri = `oci://${registry.host}/acme/ssl-encoder@${modelpack.manifestDigest}`;
    await resolveSource(f.ctx, uri, { kind: "model" });
    assert.equal(f.fetched.filter((u) => u.includes("/blobs/")).length, 1);
    await resolveSource(f.ctx, uri, { kind: "model" });
    assert.equal(f.fetched.filter((u) => u.includes("/blobs/")).length, 1, "the layer came from the blob store");
  });

  it("chooses an ORAS artifact's layer by its title", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    const id = await resolveSource(f.ctx, `oci://${registry.host}/acme/oras-encoder`, { kind: "model" });
    assert.equal(id.file, "encoder.onnx");
    assert.equal(id.digest, sha256Digest(SECOND));
  });

  it("extracts the .onnx from a KitOps model layer (tar+gzip), and takes the dataset layer as a point set", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    const model = await resolveSource(f.ctx, `oci://${registry.host}/acme/modelkit:v2`, { kind: "model" });
    assert.equal(model.file, "model/encoder.onnx");
    assert.equal(model.digest, sha256Digest(ENCODER));
    const data = await resolveSource(f.ctx, `oci://${registry.host}/acme/modelkit:v2`, { kind: "data" });
    assert.ok(await f.blobs.has(data.digest));
    assert.notEqual(data.digest, model.digest);
  });

  it("names the layers when the encoder is ambiguous or absent", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    await assert.rejects(resolveSource(f.ctx, `oci://${registry.host}/acme/two-models:v1`, { kind: "model" }), code("source_ambiguous", /a\.onnx.*b\.onnx/));
    await assert.rejects(resolveSource(f.ctx, `oci://${registry.host}/acme/ssl-encoder:v1`, { kind: "data" }), code("source_not_found", /README\.md/));
  });

  it("maps an unknown tag or repository to source_not_found", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    await assert.rejects(resolveSource(f.ctx, `oci://${registry.host}/acme/ssl-encoder:v9`, { kind: "model" }), code("source_not_found"));
    await assert.rejects(resolveSource(f.ctx, `oci://${registry.host}/acme/nothing:v1`, { kind: "model" }), code("source_not_found"));
  });

  it("refuses the registry when it is not on the allowlist in service mode", async () => {
    const f = await sourceFixture({ allow: ["registry.example.com"] });
    await assert.rejects(resolveSource(f.ctx, `oci://${registry.host}/acme/ssl-encoder:v1`, { kind: "model" }), code("source_not_allowed"));
  });

  describe("behind a faulty proxy", () => {
    let proxy: LocalServer;
    let mode: "tamper" | "500" | "stall" | "pass" = "pass";
    before(async () => {
      proxy = await localServer(async (req, res) => {
        const isBlob = req.url!.includes("/blobs/sha256:");
        if (isBlob && mode === "500") return void res.writeHead(500).end();
        if (isBlob && mode === "stall") return void res.writeHead(200, { "content-length": "1000" }).write("x");
        const upstream = await fetch(`${registry.url}${req.url}`, { headers: { accept: req.headers.accept ?? "*/*" } });
        let body = Buffer.from(await upstream.arrayBuffer());
        if (isBlob && mode === "tamper") body = Buffer.from(body.toString("latin1").replace(/./, "Z"), "latin1");
        res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" });
        res.end(body);
      });
    });
    after(() => proxy.close());

    it("other bytes than the manifest's digest: digest_mismatch, nothing stored", async () => {
      const f = await sourceFixture({ allow: [proxy.host], ociPlainHttp: [proxy.host] });
      mode = "tamper";
      await assert.rejects(resolveSource(f.ctx, `oci://${proxy.host}/acme/ssl-encoder:v1`, { kind: "model" }), code("digest_mismatch"));
      assert.equal(await f.blobs.has(sha256Digest(ENCODER)), false);
    });

    it("a manifest that does not hash to the pinned digest: digest_mismatch", async () => {
      mode = "pass";
      // Ask the proxy for the digest of another manifest, while the proxy serves this one's bytes.
      const server = await localServer(async (req, res) => {
        const upstream = await fetch(`${registry.url}${req.url!.replace(/manifests\/sha256:[0-9a-f]+/, "manifests/v1")}`, { headers: { accept: req.headers.accept ?? "*/*" } });
        res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "" });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      });
      const f = await sourceFixture({ allow: [server.host] });
      try {
        await assert.rejects(resolveSource(f.ctx, `oci://${server.host}/acme/ssl-encoder@sha256:${"0".repeat(64)}`, { kind: "model" }), code("digest_mismatch"));
      } finally {
        await server.close();
      }
    });

    it("500 and a stalled body: source_unreachable", async () => {
      const f = await sourceFixture({ allow: [proxy.host], timeoutMs: 300 });
      mode = "500";
      await assert.rejects(resolveSource(f.ctx, `oci://${proxy.host}/acme/ssl-encoder:v1`, { kind: "model" }), code("source_unreachable", /HTTP 500/));
      mode = "stall";
      await assert.rejects(resolveSource(f.ctx, `oci://${proxy.host}/acme/ssl-encoder:v1`, { kind: "model" }), code("source_unreachable"));
      mode = "pass";
      assert.equal(await f.blobs.has(sha256Digest(ENCODER)), false);
    });
  });
});

describe("OCI bearer-token flow against a registry with auth: token", { skip }, () => {
  let tokens: TokenService;
  let registry: TestRegistry;
  before(async () => {
    tokens = await startTokenService({ user: "ci", password: "pull-secret" });
    registry = await startRegistry(tokens.registryAuthConfig);
    await pushArtifact(
      registry.url,
      "private/encoder",
      "v1",
      { artifactType: MODELPACK, configMediaType: "application/vnd.cncf.model.config.v1+json", layers: [{ mediaType: "application/vnd.cncf.model.weight.v1.raw", data: ENCODER, title: "model.onnx" }] },
      { authorization: `Bearer ${tokens.adminToken("private/encoder")}` },
    );
  });
  after(async () => {
    await registry?.stop();
    await tokens?.server.close();
  });

  it("fetches a pull token from the realm with the configured credentials", async () => {
    const basic = `Basic ${Buffer.from("ci:pull-secret").toString("base64")}`;
    const f = await sourceFixture({ credentials: [{ host: tokens.server.host, header: "Authorization", value: basic }] }, { mode: "local" });
    const id = await resolveSource(f.ctx, `oci://${registry.host}/private/encoder:v1`, { kind: "model" });
    assert.equal(id.digest, sha256Digest(ENCODER));
    assert.deepEqual(tokens.scopes.slice(-1), ["repository:private/encoder:pull"]);
  });

  it("without or with wrong credentials: source_auth_failed", async () => {
    const none = await sourceFixture({}, { mode: "local" });
    await assert.rejects(resolveSource(none.ctx, `oci://${registry.host}/private/encoder:v1`, { kind: "model" }), code("source_auth_failed", /token service/));
    const wrong = await sourceFixture(
      { credentials: [{ host: tokens.server.host, header: "Authorization", value: `Basic ${Buffer.from("ci:nope").toString("base64")}` }] },
      { mode: "local" },
    );
    await assert.rejects(resolveSource(wrong.ctx, `oci://${registry.host}/private/encoder:v1`, { kind: "model" }), code("source_auth_failed"));
  });
});
