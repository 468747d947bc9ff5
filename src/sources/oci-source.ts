/**
 * `oci://<registry>/<repository>@sha256:<digest>` or `:<tag>`: the manifest is fetched (a tag is
 * resolved to the digest of the manifest bytes, which the report records), the encoder or point-set
 * layer is chosen (oci-layers.ts) and fetched by its digest, which verifies it. A layer already in
 * the blob store is not downloaded again. Layers packed as tar hold the .onnx file, which is
 * extracted into a blob of its own.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { SourceIdentity } from "../core/source-identity.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { openFileSource } from "../data/byte-source.ts";
import type { PutResult } from "../store/blob-store.ts";
import type { SourceContext } from "./context.ts";
import { alreadyStored, ingestResponse } from "./ingest.ts";
import { chooseLayer, type ChosenLayer, type InputKind, type OciDescriptor } from "./oci-layers.ts";
import { MANIFEST_ACCEPT, RegistryClient } from "./oci-registry.ts";
import type { SourceReference } from "./reference.ts";
import { readJson } from "./source-failure.ts";
import { findOnnxMember } from "./tar-onnx-member.ts";

type OciReference = Extract<SourceReference, { scheme: "oci" }>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function descriptors(value: unknown, what: string): OciDescriptor[] {
  if (!Array.isArray(value)) throw new SslmemError("source_invalid", `${what} is not an image or artifact manifest (no layers)`);
  return value.map((d: Partial<OciDescriptor>, i) => {
    if (typeof d?.mediaType !== "string" || typeof d.digest !== "string" || !DIGEST.test(d.digest) || !Number.isSafeInteger(d.size) || (d.size as number) < 0) {
      throw new SslmemError("source_invalid", `${what}: layer #${i + 1} is not a valid sha256 descriptor`);
    }
    return d as OciDescriptor;
  });
}

export async function resolveOci(ctx: SourceContext, ref: OciReference, kind: InputKind): Promise<SourceIdentity> {
  const client = new RegistryClient(ctx, ref.registry, ref.repository);
  const name = `${ref.registry}/${ref.repository}`;
  const reference = ref.digest ?? ref.tag!;
  const res = await client.get(`manifests/${reference}`, MANIFEST_ACCEPT, `manifest '${reference}' of ${ref.repository}`);
  const { json, bytes } = await readJson(res, client.where);
  const manifestDigest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  if (ref.digest && manifestDigest !== ref.digest) {
    throw new SslmemError("digest_mismatch", `${client.where} sent a manifest hashing to ${manifestDigest} for ${ref.digest}`, {
      expected: ref.digest,
      actual: manifestDigest,
    });
  }
  const what = `oci://${name}@${manifestDigest.slice(0, 19)}…`;
  const manifest = json as { manifests?: unknown; layers?: unknown };
  if (Array.isArray(manifest.manifests)) {
    throw new SslmemError("source_ambiguous", `oci://${name}:${reference} is an index of ${manifest.manifests.length} manifests; reference one of them by digest`);
  }
  const chosen = chooseLayer(descriptors(manifest.layers, what), kind, what);
  if (chosen.layer.size > ctx.maxBytes) {
    throw new SslmemError("source_too_large", `${what}: the layer ${chosen.title ?? chosen.layer.digest} is larger than this server's limit of ${ctx.maxBytes} bytes`);
  }
  let fresh = false;
  let layer = await alreadyStored(ctx, chosen.layer.digest);
  if (!layer) {
    const blob = await client.get(`blobs/${chosen.layer.digest}`, "*/*", `layer ${chosen.layer.digest}`);
    layer = await ingestResponse(ctx, blob, { what: `${what} layer ${chosen.title ?? chosen.layer.digest}`, expectedDigest: chosen.layer.digest });
    fresh = true;
  }
  let file: { stored: PutResult; name?: string } = { stored: layer, ...(chosen.title ? { name: chosen.title } : {}) };
  if (chosen.packing !== "raw") {
    try {
      file = await extractOnnx(ctx, layer.digest, chosen, what);
    } catch (e) {
      if (fresh) await ctx.blobs.delete(layer.digest).catch(() => undefined); // a refused reference stores nothing
      throw e;
    }
  }
  return {
    uri: ref.uri,
    scheme: "oci",
    resolved: `oci://${name}@${manifestDigest}`,
    manifestDigest,
    ...(file.name ? { file: file.name } : {}),
    digest: file.stored.digest,
    size: file.stored.size,
  };
}

/** The single .onnx inside a tar(-gzip) layer, as its own blob; cached by the layer's digest. */
async function extractOnnx(ctx: SourceContext, layerDigest: string, chosen: ChosenLayer, what: string): Promise<{ stored: PutResult; name: string }> {
  const locator = `oci-layer-onnx:${layerDigest}`;
  const cached = await ctx.cache.get(locator);
  const cachedBlob = cached?.file ? await alreadyStored(ctx, cached.digest) : null;
  if (cached?.file && cachedBlob) return { stored: cachedBlob, name: cached.file };
  let tarDigest = layerDigest;
  if (chosen.packing === "tar+gzip") {
    try {
      tarDigest = (await ctx.blobs.put(createReadStream(ctx.blobs.pathFor(layerDigest)).pipe(createGunzip()), { maxBytes: ctx.maxBytes })).digest;
    } catch (e) {
      if (isSslmemError(e) && e.code === "payload_too_large") throw new SslmemError("source_too_large", `${what}: the layer expands to more than ${ctx.maxBytes} bytes`);
      if (isSslmemError(e)) throw e;
      throw new SslmemError("source_invalid", `${what}: the layer is not valid gzip`);
    }
  }
  try {
    const src = await openFileSource(ctx.blobs.pathFor(tarDigest));
    let member;
    try {
      member = await findOnnxMember(src, `${what} layer ${chosen.title ?? layerDigest}`);
    } finally {
      await src.close();
    }
    const bytes = member.size === 0 ? Readable.from([]) : createReadStream(ctx.blobs.pathFor(tarDigest), { start: member.offset, end: member.offset + member.size - 1 });
    const stored = await ctx.blobs.put(bytes, { maxBytes: ctx.maxBytes });
    await ctx.cache.set(locator, { ...stored, file: member.name });
    return { stored, name: member.name };
  } finally {
    if (tarDigest !== layerDigest) await ctx.blobs.delete(tarDigest).catch(() => undefined);
  }
}
