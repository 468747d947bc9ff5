/**
 * Watches of an OCI repository (polled tag, real docker-registry) and of a Hugging Face repo
 * (webhook with X-Webhook-Secret, local Hub API), with the real engine: each new version is
 * audited once; for OCI the JSON report is attached to the model's manifest as a referrer and
 * read back from the registry (referrers tag scheme: distribution 2.8 has no referrers API).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { startHfServer, type HfState } from "../helpers/hf-server.ts";
import { pushArtifact, registryAvailable, startRegistry, type TestRegistry } from "../helpers/oci-registry.ts";
import { pollUntil } from "../helpers/poll.ts";
import type { LocalServer } from "../helpers/sources.ts";

const skip = registryAvailable() || process.env.CI ? false : "docker-registry is not installed (scripts/ci-services.sh installs it)";
const REPORT_ARTIFACT_TYPE = "application/vnd.sslmem.report.v1+json";
const COMMIT = "b".repeat(40);

describe("OCI and Hugging Face watches", { skip }, () => {
  let registry: TestRegistry;
  let hf: LocalServer;
  let server: EngineServer;
  let common: { reference: string; candidates: string; config: { views: number }; gate: { failOnFlagged: number } };
  let target: Uint8Array;
  let hfState: HfState;

  before(async () => {
    const work = tempDir();
    const enc = writeTinyEncoderPair(work);
    target = enc.targetBytes;
    registry = await startRegistry();
    hfState = { repos: { "acme/encoder": { refs: { main: COMMIT }, commits: { [COMMIT]: { "model.onnx": target } }, lfs: new Set(["model.onnx"]) } } };
    hf = await startHfServer(hfState);
    server = await startEngineServer({
      config: { sources: { allow: [registry.host], hfEndpoint: hf.url }, outbox: { pollMs: 20, backoffMs: 20 }, watches: { ociPollMs: 1_000 } },
    });
    common = {
      reference: await server.alice.putBlob(enc.referenceBytes),
      candidates: await server.alice.putBlob(readFileSync(writeRandomNpy(work, "c.npy", 4, 16, 16, 1))),
      config: { views: 2 },
      gate: { failOnFlagged: 0 },
    };
  });
  after(async () => {
    await server?.close();
    await Promise.all([registry?.stop(), hf?.close()]);
  });

  const createWatch = (subject: Record<string, unknown>) =>
    server.alice.json<{ id: string; hook: string | null; secret: string }>("/v1/watches", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...common, subject }),
    });
  const audits = async () => (await server.alice.json<{ items: { id: string; state: string }[] }>("/v1/audits?limit=100")).body.items;

  it("polls an OCI tag: the version it points at is audited once and the report attached as a referrer", async () => {
    const { manifestDigest } = await pushArtifact(registry.url, "acme/encoder", "rc1", {
      artifactType: "application/vnd.cncf.model.manifest.v1+json",
      configMediaType: "application/vnd.cncf.model.config.v1+json",
      layers: [{ mediaType: "application/vnd.cncf.model.weight.v1.raw", data: target, title: "encoder.onnx" }],
    });
    const created = await createWatch({ kind: "oci", registry: registry.host, repository: "acme/encoder", tag: "rc1", intervalSeconds: 1 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.hook, null, "polled, no webhook");
    const [audit] = await pollUntil(async () => {
      const items = await audits();
      return items.length > 0 ? items : undefined;
    }, { what: "the audit the poller starts", timeoutMs: 30_000 });
    const done = await server.alice.waitFor(audit.id);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const index = await pollUntil(async () => {
      const res = await fetch(`${registry.url}/v2/acme/encoder/manifests/${manifestDigest.replace(":", "-")}`, { headers: { accept: "application/vnd.oci.image.index.v1+json" } });
      return res.status === 200 ? ((await res.json()) as { manifests: { digest: string; artifactType: string }[] }) : undefined;
    }, { what: "the referrers index", timeoutMs: 30_000 });
    assert.deepEqual(index.manifests.map((m) => m.artifactType), [REPORT_ARTIFACT_TYPE]);
    const manifest = (await (await fetch(`${registry.url}/v2/acme/encoder/manifests/${index.manifests[0].digest}`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).json()) as {
      subject: { digest: string };
      layers: { digest: string }[];
      annotations: Record<string, string>;
    };
    assert.equal(manifest.subject.digest, manifestDigest);
    const flagged = (done.summary as { flagged: number }).flagged;
    assert.deepEqual(manifest.annotations, { "org.sslmem.verdict": flagged > 0 ? "fail" : "pass", "org.sslmem.flagged": String(flagged), "org.sslmem.audit": done.id });
    const report = (await (await fetch(`${registry.url}/v2/acme/encoder/blobs/${manifest.layers[0].digest}`)).json()) as { schemaVersion: string; audit: { id: string; sources: { target: { resolved: string } } } };
    assert.equal(report.schemaVersion, "sslmem.report/v1");
    assert.equal(report.audit.id, done.id);
    assert.equal(report.audit.sources.target.resolved, `oci://${registry.host}/acme/encoder@${manifestDigest}`);
    // Later polls of the same digest start nothing.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal((await audits()).length, 1);
    assert.equal((await server.alice.json(`/v1/watches/${created.body.id}`, { method: "DELETE" })).status, 204);
  });

  it("a Hugging Face repo.content webhook audits each pushed commit of a watched ref (verdict as a discussion); a wrong secret is 401", async () => {
    const created = await createWatch({ kind: "huggingface", repo: "acme/encoder", path: "model.onnx", discussion: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const hook = created.body.hook!;
    const payload = {
      event: { action: "update", scope: "repo.content" },
      repo: { type: "model", name: "acme/encoder", id: "r1", private: false, headSha: COMMIT },
      updatedRefs: [{ ref: "refs/heads/main", oldSha: "a".repeat(40), newSha: COMMIT }, { ref: "refs/heads/dev", oldSha: null, newSha: "c".repeat(40) }],
      webhook: { id: "w1", version: 3 },
    };
    const post = (secret: string | undefined) =>
      server.anonymous.json<{ audits: string[]; ignored: string[] }>(hook, {
        method: "POST",
        headers: { "content-type": "application/json", ...(secret !== undefined ? { "x-webhook-secret": secret } : {}) },
        body: JSON.stringify(payload),
      });
    const before = (await audits()).length;
    assert.equal((await post(undefined)).status, 401);
    assert.equal((await post(created.body.secret.slice(0, -1) + "x")).status, 401);
    assert.equal((await audits()).length, before, "refused deliveries start nothing");
    const res = await post(created.body.secret);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.audits.length, 1);
    assert.deepEqual(res.body.ignored, ["refs/heads/dev is not watched"]);
    const done = await server.alice.waitFor(res.body.audits[0]);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    await pollUntil(async () => (hfState.discussions?.length ?? 0) > 0, { what: "the verdict discussion", timeoutMs: 30_000 });
    const flagged = (done.summary as { flagged: number }).flagged;
    const verdict = flagged > 0 ? "fail" : "pass";
    assert.deepEqual(hfState.discussions!.map((d) => [d.repo, d.title]), [["acme/encoder", `sslmem audit: ${verdict} for ${COMMIT.slice(0, 7)}`]]);
    assert.match(hfState.discussions![0].description, new RegExp(`${flagged} of 4 candidates flagged`));
    assert.match(hfState.discussions![0].description, new RegExp(done.id));
    const again = await post(created.body.secret);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.audits, [], "one audit per commit");
  });
});
