/**
 * The report as a referrer of the audited model, in a real registry (distribution 2.8, which has
 * no referrers API: the referrers tag scheme is used), with and without token auth.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { attachReportReferrer, REPORT_ARTIFACT_TYPE } from "../../src/writeback/oci-referrer.ts";
import { pushArtifact, registryAvailable, sha256Digest, startRegistry, type TestRegistry } from "../helpers/oci-registry.ts";
import { startTokenService, type TokenService } from "../helpers/registry-token-server.ts";
import { sourceFixture } from "../helpers/sources.ts";
import { convNet } from "../helpers/tiny-encoders.ts";

const skip = registryAvailable() || process.env.CI ? false : "docker-registry is not installed (scripts/ci-services.sh installs it)";
const MODEL = convNet({ seed: 9, height: 16, width: 16, widths: [4], dim: 8 });
const modelpack = {
  artifactType: "application/vnd.cncf.model.manifest.v1+json",
  configMediaType: "application/vnd.cncf.model.config.v1+json",
  layers: [{ mediaType: "application/vnd.cncf.model.weight.v1.raw", data: MODEL, title: "model.onnx" }],
};

async function referrersOf(url: string, repository: string, subject: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v2/${repository}/manifests/${subject.replace(":", "-")}`, { headers: { accept: "application/vnd.oci.image.index.v1+json", ...headers } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { manifests: { digest: string; artifactType: string }[] }).manifests;
}

describe("report referrers in a real registry", { skip }, () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry?.stop());

  it("attaches the report under the referrers tag; the artifact's subject is the model and its layer the report", async () => {
    const { manifestDigest } = await pushArtifact(registry.url, "ml/encoder", "rc1", modelpack);
    const f = await sourceFixture({ allow: [registry.host] });
    const report = JSON.stringify({ schemaVersion: "sslmem.report/v1", verdict: "pass" });
    const attached = await attachReportReferrer(f.ctx, { registry: registry.host, repository: "ml/encoder", digest: manifestDigest }, report, { "dev.sslmem.verdict": "pass" });
    assert.equal(attached.listedBy, "referrers-tag");
    const listed = await referrersOf(registry.url, "ml/encoder", manifestDigest);
    assert.deepEqual(listed.map((m) => [m.digest, m.artifactType]), [[attached.digest, REPORT_ARTIFACT_TYPE]]);
    const manifest = (await (await fetch(`${registry.url}/v2/ml/encoder/manifests/${attached.digest}`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).json()) as {
      subject: { digest: string };
      layers: { digest: string }[];
      annotations: Record<string, string>;
    };
    assert.equal(manifest.subject.digest, manifestDigest);
    assert.equal(manifest.annotations["dev.sslmem.verdict"], "pass");
    const blob = await fetch(`${registry.url}/v2/ml/encoder/blobs/${manifest.layers[0].digest}`);
    assert.equal(await blob.text(), report);
    assert.equal(manifest.layers[0].digest, sha256Digest(new TextEncoder().encode(report)));
    // Idempotent: attaching the same report again adds nothing; another report adds one entry.
    await attachReportReferrer(f.ctx, { registry: registry.host, repository: "ml/encoder", digest: manifestDigest }, report, { "dev.sslmem.verdict": "pass" });
    assert.equal((await referrersOf(registry.url, "ml/encoder", manifestDigest)).length, 1);
    await attachReportReferrer(f.ctx, { registry: registry.host, repository: "ml/encoder", digest: manifestDigest }, report.replace("pass", "fail"));
    assert.equal((await referrersOf(registry.url, "ml/encoder", manifestDigest)).length, 2);
  });

  it("an unknown subject is source_not_found and pushes nothing", async () => {
    const f = await sourceFixture({ allow: [registry.host] });
    await assert.rejects(
      attachReportReferrer(f.ctx, { registry: registry.host, repository: "ml/encoder", digest: `sha256:${"0".repeat(64)}` }, "{}"),
      (e: unknown) => (e as { code?: string }).code === "source_not_found",
    );
  });

  describe("with token auth", () => {
    let tokens: TokenService;
    let secured: TestRegistry;
    before(async () => {
      tokens = await startTokenService({ user: "ci", password: "push-secret", grant: ["pull", "push"] });
      secured = await startRegistry(tokens.registryAuthConfig);
    });
    after(async () => {
      await secured?.stop();
      await tokens?.server.close();
    });

    it("asks the token service for pull,push and attaches the report", async () => {
      const admin = { authorization: `Bearer ${tokens.adminToken("ml/secure")}` };
      const { manifestDigest } = await pushArtifact(secured.url, "ml/secure", "v1", modelpack, admin);
      const basic = `Basic ${Buffer.from("ci:push-secret").toString("base64")}`;
      const f = await sourceFixture({ allow: [secured.host, tokens.server.host], credentials: [{ host: tokens.server.host, header: "Authorization", value: basic }] });
      const attached = await attachReportReferrer(f.ctx, { registry: secured.host, repository: "ml/secure", digest: manifestDigest }, "{}");
      assert.ok(tokens.scopes.includes("repository:ml/secure:pull,push"));
      assert.deepEqual((await referrersOf(secured.url, "ml/secure", manifestDigest, admin)).map((m) => m.digest), [attached.digest]);
    });
  });
});
