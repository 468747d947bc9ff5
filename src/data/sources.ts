/**
 * Opens a candidate (or control) set: a folder, a .tar, .tar.gz, .zip or .npy file. The kind is
 * decided by content, not by name, so uploaded blobs (stored under digests) open the same way.
 * Errors never contain the path, nor which input it is: the caller knows both and prefixes them
 * (the CLI with the flag and path, the service with the input's role).
 */
import { checkPointIdLengths } from "./point-id.ts";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readHead } from "./file-head.ts";
import { SslmemError } from "../core/errors.ts";
import { openFileSource, type ByteSource } from "./byte-source.ts";
import { openDirectory } from "./directory.ts";
import { gunzipToFile } from "./gzip.ts";
import { decodeImage } from "./image-decode.ts";
import { resolveIngestLimits, type IngestLimits } from "./limits.ts";
import { readNpyImage, readNpyLayout } from "./npy.ts";
import { makePointSet, type PointSet } from "./point-set.ts";
import { SNIFF_BYTES, sniff } from "./sniff.ts";
import { indexTar, readTarMember, type TarMember } from "./tar.ts";
import { indexZip, readZipMember } from "./zip.ts";

export type { PointSet, PointSetKind, SkippedEntry } from "./point-set.ts";

export interface OpenPointSetOptions {
  /** Where a .tar.gz is decompressed (default: the OS temporary folder). Removed on close. */
  readonly tmpDir?: string;
}

const ACCEPTED = "a folder of images, or a .tar, .tar.gz, .zip or .npy file";

export async function openPointSet(
  path: string,
  limits: Partial<IngestLimits> = {},
  options: OpenPointSetOptions = {},
): Promise<PointSet> {
  const resolved = resolveIngestLimits(limits);
  const set = await openAnyPointSet(path, resolved, options);
  try {
    checkPointIdLengths(set, resolved);
  } catch (e) {
    await set.close();
    throw e;
  }
  return set;
}

async function openAnyPointSet(path: string, resolved: IngestLimits, options: OpenPointSetOptions): Promise<PointSet> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EACCES" || code === "EPERM") {
      throw new SslmemError("candidates_not_found", "the path cannot be read (permission denied)", undefined, { cause: e });
    }
    throw new SslmemError("candidates_not_found", `the path does not exist; give ${ACCEPTED}`, undefined, { cause: e });
  }
  if (info.isDirectory()) return openDirectory(path, resolved);
  if (!info.isFile()) throw new SslmemError("archive_invalid", `the path is not a regular file or folder; give ${ACCEPTED}`);

  const head = await readHead(path);
  const kind = sniff(head);
  if (kind.kind === "container") {
    switch (kind.format) {
      case "tar":
        return openTar(path, "tar", resolved, async () => {});
      case "gzip":
        return openTarGz(path, resolved, options);
      case "zip":
        return openZip(path, resolved);
      case "npy":
        return openNpy(path, resolved);
      default:
        throw new SslmemError("archive_invalid", `${kind.format} archives are not supported; give ${ACCEPTED}`);
    }
  }
  // An empty tar is 1024+ zero bytes; it is still a tar (and then an empty set).
  if (head.length === SNIFF_BYTES && head.every((b) => b === 0)) return openTar(path, "tar", resolved, async () => {});
  if (kind.kind === "image") {
    throw new SslmemError("archive_invalid", `the path is a single image; give ${ACCEPTED}`);
  }
  throw new SslmemError("archive_invalid", `the file is not recognised; give ${ACCEPTED}`);
}

/** Runs `build` over an open source; closes the source (and runs `cleanup`) if building fails. */
async function withSource(path: string, cleanup: () => Promise<void>, build: (src: ByteSource) => Promise<PointSet>): Promise<PointSet> {
  let src: ByteSource | undefined;
  try {
    src = await openFileSource(path);
    return await build(src);
  } catch (e) {
    await src?.close();
    await cleanup();
    throw e;
  }
}

function openTar(path: string, kind: "tar" | "tar.gz", limits: IngestLimits, cleanup: () => Promise<void>): Promise<PointSet> {
  return withSource(path, cleanup, async (src) => {
    const index = await indexTar(src, limits);
    return makePointSet<TarMember>({
      kind,
      ...index,
      loadPoint: async (m) => decodeImage(await readTarMember(src, m, limits), m.id, limits),
      close: async () => {
        await src.close();
        await cleanup();
      },
    });
  });
}

async function openTarGz(path: string, limits: IngestLimits, options: OpenPointSetOptions): Promise<PointSet> {
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), "sslmem-targz-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const tarPath = join(dir, "set.tar");
  try {
    await gunzipToFile(path, tarPath, limits);
    const head = await readHead(tarPath);
    const inner = sniff(head);
    const emptyTar = head.length === SNIFF_BYTES && head.every((b) => b === 0);
    if (!(inner.kind === "container" && inner.format === "tar") && !emptyTar) {
      throw new SslmemError("archive_invalid", "the gzip file does not contain a tar archive");
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return openTar(tarPath, "tar.gz", limits, cleanup);
}

function openZip(path: string, limits: IngestLimits): Promise<PointSet> {
  return withSource(path, async () => {}, async (src) => {
    const index = await indexZip(src, limits);
    return makePointSet({
      kind: "zip",
      ...index,
      loadPoint: async (m) => decodeImage(await readZipMember(src, m, limits), m.id, limits),
      close: () => src.close(),
    });
  });
}

function openNpy(path: string, limits: IngestLimits): Promise<PointSet> {
  return withSource(path, async () => {}, async (src) => {
    const layout = await readNpyLayout(src, limits);
    const points = Array.from({ length: layout.count }, (_, i) => ({ id: String(i), index: i }));
    return makePointSet({
      kind: "npy",
      points,
      skipped: [],
      keepOrder: true,
      loadPoint: (p) => readNpyImage(src, layout, p.index),
      close: () => src.close(),
    });
  });
}
