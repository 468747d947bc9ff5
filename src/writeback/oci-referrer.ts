/**
 * Attaching an audit's JSON report to the audited model in its OCI registry, as a referrer
 * artifact (OCI distribution 1.1): a manifest whose `subject` is the model's manifest and whose
 * `artifactType` is `application/vnd.sslmem.report.v1+json`, with the report as its one layer.
 * Registries without the referrers API (no `OCI-Subject` header on the manifest PUT, such as
 * distribution 2.8) get the referrers tag scheme: the index tagged `sha256-<subject hex>` lists
 * the referrers, and the new one is added to it. Pushing the same report again changes nothing
 * (content-addressed blobs and manifest, and the index keeps one entry per digest).
 */
import { createHash } from "node:crypto";
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "../sources/context.ts";
import { MANIFEST_ACCEPT, RegistryClient } from "../sources/oci-registry.ts";
import { readJson } from "../sources/source-failure.ts";

export const REPORT_ARTIFACT_TYPE = "application/vnd.sslmem.report.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const EMPTY_CONFIG = new TextEncoder().encode("{}");

export interface OciSubject {
  registry: string;
  repository: string;
  /** The model's manifest digest (the report's `audit.sources.target.manifestDigest`). */
  digest: string;
}

export interface AttachedReport {
  /** Digest of the referrer manifest. */
  digest: string;
  /** How the registry lists it: its referrers API, or the referrers tag. */
  listedBy: "referrers-api" | "referrers-tag";
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function pushBlob(client: RegistryClient, repository: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const head = await client.request(`/v2/${repository}/blobs/${digest}`, { method: "HEAD", pass: [404] }, "a report blob");
  await head.body?.cancel().catch(() => undefined);
  if (head.status === 200) return digest;
  const start = await client.request(`/v2/${repository}/blobs/uploads/`, { method: "POST" }, "a blob upload");
  await start.body?.cancel().catch(() => undefined);
  const location = start.headers.get("location");
  if (!location) throw new SslmemError("source_unreachable", `${client.where} started an upload without a Location`);
  const put = new URL(location, client.base);
  put.searchParams.set("digest", digest);
  const done = await client.request(put.href, { method: "PUT", body: bytes, contentType: "application/octet-stream" }, "a blob upload");
  await done.body?.cancel().catch(() => undefined);
  return digest;
}

export async function attachReportReferrer(ctx: SourceContext, subject: OciSubject, reportJson: string, annotations: Record<string, string> = {}): Promise<AttachedReport> {
  const client = new RegistryClient(ctx, subject.registry, subject.repository, "pull,push");
  // The subject descriptor needs the manifest's size and media type: the registry says them.
  const head = await client.request(`/v2/${subject.repository}/manifests/${subject.digest}`, { method: "HEAD", accept: MANIFEST_ACCEPT }, "the model's manifest");
  const subjectSize = Number(head.headers.get("content-length"));
  const subjectType = head.headers.get("content-type")?.split(";")[0].trim() || OCI_MANIFEST;
  if (!Number.isSafeInteger(subjectSize) || subjectSize <= 0) throw new SslmemError("source_unreachable", `${client.where} did not give the model manifest's size`);
  const report = new TextEncoder().encode(reportJson);
  const configDigest = await pushBlob(client, subject.repository, EMPTY_CONFIG);
  const layerDigest = await pushBlob(client, subject.repository, report);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: REPORT_ARTIFACT_TYPE,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: configDigest, size: EMPTY_CONFIG.byteLength },
      layers: [{ mediaType: REPORT_ARTIFACT_TYPE, digest: layerDigest, size: report.byteLength, annotations: { "org.opencontainers.image.title": "sslmem-report.json" } }],
      subject: { mediaType: subjectType, digest: subject.digest, size: subjectSize },
      annotations,
    }),
  );
  const digest = sha256(manifest);
  const put = await client.request(`/v2/${subject.repository}/manifests/${digest}`, { method: "PUT", body: manifest, contentType: OCI_MANIFEST }, "the report manifest");
  await put.body?.cancel().catch(() => undefined);
  if (put.headers.get("oci-subject") === subject.digest) return { digest, listedBy: "referrers-api" };

  // Referrers tag scheme: read the index under the tag (or start one), add this manifest once.
  const tag = subject.digest.replace(":", "-");
  const existing = await client.request(`/v2/${subject.repository}/manifests/${tag}`, { accept: OCI_INDEX, pass: [404] }, "the referrers index");
  let manifests: Record<string, unknown>[] = [];
  if (existing.status === 404) await existing.body?.cancel().catch(() => undefined);
  else {
    const { json } = await readJson(existing, client.where);
    const list = (json as { manifests?: unknown }).manifests;
    if (Array.isArray(list)) manifests = list as Record<string, unknown>[];
  }
  if (!manifests.some((m) => m.digest === digest)) {
    manifests.push({ mediaType: OCI_MANIFEST, digest, size: manifest.byteLength, artifactType: REPORT_ARTIFACT_TYPE, annotations });
    const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    const tagged = await client.request(`/v2/${subject.repository}/manifests/${tag}`, { method: "PUT", body: index, contentType: OCI_INDEX }, "the referrers index");
    await tagged.body?.cancel().catch(() => undefined);
  }
  return { digest, listedBy: "referrers-tag" };
}
