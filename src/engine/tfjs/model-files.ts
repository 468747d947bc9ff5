/**
 * Where a TF.js model's files come from: a directory holding model.json (or that model.json
 * itself), or a .tar / .zip archive of one — a file on the CLI or an encoder blob the service
 * stored. What a format is comes from the content, never the name (blobs are stored under digests).
 *
 * The archive readers are the point sets' (src/data/tar.ts, zip.ts) with their checks — unsafe
 * member names, links, overlapping zip members, entry counts, expansion — and limits sized for a
 * model. Shards are found by the manifest's checked relative paths next to model.json (no member
 * outside the model's folder can be named), and together must hold exactly the bytes the manifest
 * declares, which is checked from the sizes in the index before any shard is read.
 */
import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { readHead } from "../../data/file-head.ts";
import { SslmemError } from "../../core/errors.ts";
import { openFileSource, type ByteSource } from "../../data/byte-source.ts";
import { resolveIngestLimits, type IngestLimits } from "../../data/limits.ts";
import { sniff } from "../../data/sniff.ts";
import { indexTar, readTarMember } from "../../data/tar.ts";
import { indexZip, readZipMember } from "../../data/zip.ts";
import { TFJS_LIMITS, parseModelJson, type TfjsModelManifest } from "./model-json.ts";

/** A TF.js model's files, wherever they are. */
export interface TfjsModelFiles {
  /** What holds the model (reported in errors, never a path). */
  readonly kind: "directory" | "tar" | "zip";
  readModelJson(): Promise<string>;
  /** The size of a shard (a path checked by model-json.ts), before reading it; refuses a missing one. */
  shardSize(path: string): Promise<number>;
  readShard(path: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A model loaded into memory: the checked manifest, the shards concatenated, and its digest. */
export interface TfjsModelParts {
  manifest: TfjsModelManifest;
  weightData: ArrayBuffer;
  /** sha256 over model.json and the shards in manifest order (the same for a directory and its archive). */
  digest: string;
}

/** Archive limits for a model: a model.json and its shards, not a dataset. */
const MODEL_ARCHIVE_LIMITS: IngestLimits = resolveIngestLimits({
  maxArchiveEntries: TFJS_LIMITS.shards + 64,
  maxExpandedBytes: TFJS_LIMITS.totalBytes + TFJS_LIMITS.modelJsonBytes,
  maxFileBytes: TFJS_LIMITS.totalBytes,
});

const missingShard = (shard: string) => new SslmemError("model_invalid", `model.json: weight shard ${JSON.stringify(shard)} is missing`);

function directoryFiles(root: string): TfjsModelFiles {
  const resolve = async (shard: string) => {
    const path = await realpath(join(root, shard)).catch(() => {
      throw missingShard(shard);
    });
    if (!path.startsWith(root + sep)) throw new SslmemError("model_invalid", `model.json: weight shard ${JSON.stringify(shard)} resolves outside the model directory`);
    return path;
  };
  return {
    kind: "directory",
    readModelJson: async () => {
      const info = await stat(join(root, "model.json")).catch(() => null);
      if (!info?.isFile()) throw new SslmemError("model_not_found", "the TF.js model directory has no readable model.json");
      if (info.size > TFJS_LIMITS.modelJsonBytes) throw new SslmemError("model_invalid", `model.json: larger than ${TFJS_LIMITS.modelJsonBytes / 2 ** 20} MiB`);
      return readFile(join(root, "model.json"), "utf8");
    },
    shardSize: async (shard) => (await stat(await resolve(shard))).size,
    readShard: async (shard) => readFile(await resolve(shard)),
    close: async () => {},
  };
}

/** An archive's model: model.json at the root or in one top folder; shards next to it. */
async function archiveFiles(src: ByteSource, format: "tar" | "zip"): Promise<TfjsModelFiles> {
  const keepAll = () => true;
  const members = new Map<string, { size: number; read: () => Promise<Uint8Array> }>();
  if (format === "tar") {
    for (const m of (await indexTar(src, MODEL_ARCHIVE_LIMITS, keepAll)).points) members.set(m.id, { size: m.size, read: () => readTarMember(src, m, MODEL_ARCHIVE_LIMITS) });
  } else {
    for (const m of (await indexZip(src, MODEL_ARCHIVE_LIMITS, keepAll)).points) members.set(m.id, { size: m.uncompressedSize, read: () => readZipMember(src, m, MODEL_ARCHIVE_LIMITS) });
  }
  const candidates = [...members.keys()].filter((id) => id === "model.json" || /^[^/]+\/model\.json$/.test(id));
  if (candidates.length === 0) throw new SslmemError("model_invalid", `the ${format} archive holds no model.json (a TF.js model archive has model.json at its root or in one top folder)`);
  if (candidates.length > 1) throw new SslmemError("model_invalid", `the ${format} archive holds ${candidates.length} model.json files; give one model per archive`);
  const folder = candidates[0].slice(0, -"model.json".length);
  const member = (shard: string) => {
    const m = members.get(folder + shard);
    if (!m) throw missingShard(shard);
    return m;
  };
  return {
    kind: format,
    readModelJson: async () => {
      const m = member("model.json");
      if (m.size > TFJS_LIMITS.modelJsonBytes) throw new SslmemError("model_invalid", `model.json: larger than ${TFJS_LIMITS.modelJsonBytes / 2 ** 20} MiB`);
      return Buffer.from(await m.read()).toString("utf8");
    },
    shardSize: async (shard) => member(shard).size,
    readShard: async (shard) => member(shard).read(),
    close: () => src.close(),
  };
}

/**
 * The TF.js model at `path`, or null when it is not one (e.g. an ONNX file): a directory with
 * model.json, a file named model.json, or a tar / zip archive (which must then hold a model).
 */
export async function openTfjsModel(path: string): Promise<TfjsModelFiles | null> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) {
    if (!(await stat(join(path, "model.json")).catch(() => null))?.isFile()) return null;
    return directoryFiles(await realpath(path));
  }
  if (!info?.isFile()) return null;
  if (basename(path) === "model.json") return directoryFiles(await realpath(dirname(path)));
  const kind = sniff(await readHead(path));
  if (kind.kind !== "container" || (kind.format !== "tar" && kind.format !== "zip")) return null;
  const src = await openFileSource(path);
  try {
    return await archiveFiles(src, kind.format);
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Whether `path` holds a TF.js model (see openTfjsModel); refuses an archive that holds none. */
export async function isTfjsModel(path: string): Promise<boolean> {
  const files = await openTfjsModel(path);
  await files?.close();
  return files !== null;
}

/** Reads and checks a model: the manifest (model-json.ts), the shard sizes against it, then the shards. */
export async function loadModelParts(files: TfjsModelFiles): Promise<TfjsModelParts> {
  const text = await files.readModelJson();
  const manifest = parseModelJson(text);
  let total = 0;
  for (const shard of manifest.shards) {
    total += await files.shardSize(shard);
    if (total > manifest.weightBytes) break;
  }
  if (total !== manifest.weightBytes) {
    throw new SslmemError("model_invalid", `model.json: the weight shards hold ${total > manifest.weightBytes ? "more than " : ""}${total} bytes, but the manifest declares ${manifest.weightBytes}`);
  }
  const weights = new Uint8Array(total);
  const hash = createHash("sha256").update(text);
  let offset = 0;
  for (const shard of manifest.shards) {
    const bytes = await files.readShard(shard);
    if (offset + bytes.length > total) throw new SslmemError("model_invalid", `model.json: weight shard ${JSON.stringify(shard)} changed while it was read`);
    weights.set(bytes, offset);
    hash.update(bytes);
    offset += bytes.length;
  }
  return { manifest, weightData: weights.buffer, digest: `sha256:${hash.digest("hex")}` };
}
