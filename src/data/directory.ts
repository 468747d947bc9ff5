/**
 * A folder of images, walked recursively. Every regular file is sniffed by content; images are
 * points (whatever their extension), everything else is recorded as skipped with a reason.
 * Symbolic links are never followed (a link could lead out of the root), and files are opened
 * with O_NOFOLLOW | O_NONBLOCK so neither a link nor a FIFO swapped in later is read (regular-file.ts).
 * Ids are POSIX paths relative to the root; names that are not valid UTF-8 are skipped (Node
 * would decode them lossily and could not open them again).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import { decodeImage, imageFileTooLarge } from "./image-decode.ts";
import type { IngestLimits } from "./limits.ts";
import { quoteId } from "./point-id.ts";
import { makePointSet, tooManyPoints, type PointSet, type SkippedEntry } from "./point-set.ts";
import { FileReader, readRegularFile } from "./regular-file.ts";
import { SNIFF_BYTES, sniffImage, skipReason } from "./sniff.ts";

/** Files sniffed at once: enough to hide disk latency, few enough to stay far from fd limits. */
const SNIFF_CONCURRENCY = 16;

interface FilePoint {
  readonly id: string;
}

function errnoReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "ELOOP") return "symbolic link (not followed)";
  if (code === "ENOENT") return "disappeared while the folder was read";
  return `cannot be read (${code ?? "I/O error"})`;
}

/** Regular files under `root` (ids), with everything else recorded as skipped. */
async function walk(root: string, limits: IngestLimits, skipped: SkippedEntry[]): Promise<string[]> {
  const files: string[] = [];
  const pending: string[] = [""];
  // Bounds memory on a folder of millions of non-images (sniffing later filters them).
  const maxEntries = limits.maxPoints + limits.maxArchiveEntries;
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    let entries;
    try {
      entries = await readdir(rel === "" ? root : join(root, rel), { withFileTypes: true });
    } catch (e) {
      if (rel === "") throw e;
      skipped.push({ id: `${rel}/`, reason: `folder ${errnoReason(e)}` });
      continue;
    }
    for (const entry of entries) {
      const id = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.name.includes("\uFFFD")) skipped.push({ id, reason: "name is not valid UTF-8" });
      else if (entry.isSymbolicLink()) skipped.push({ id, reason: "symbolic link (not followed)" });
      else if (entry.isDirectory()) pending.push(id);
      else if (entry.isFile()) files.push(id);
      else skipped.push({ id, reason: "not a regular file" });
      if (files.length + skipped.length > maxEntries) throw tooManyPoints(limits, "the folder");
    }
  }
  return files;
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function openDirectory(root: string, limits: IngestLimits): Promise<PointSet> {
  const skipped: SkippedEntry[] = [];
  const files = await walk(root, limits, skipped);
  const points: FilePoint[] = [];
  await forEachLimited(files, SNIFF_CONCURRENCY, async (id) => {
    try {
      const file = await readRegularFile(join(root, id), { head: SNIFF_BYTES });
      if (!file.isFile || file.bytes === null) skipped.push({ id, reason: "not a regular file" });
      else if (sniffImage(file.bytes) !== null) points.push({ id });
      else skipped.push({ id, reason: skipReason(file.bytes, file.size) });
    } catch (e) {
      skipped.push({ id, reason: errnoReason(e) });
    }
  });
  if (points.length > limits.maxPoints) throw tooManyPoints(limits, "the folder");

  // The audit's loads go through a worker thread (regular-file.ts), started on the first load.
  const reader = new FileReader();
  const loadPoint = async ({ id }: FilePoint): Promise<RgbImage> => {
    let file;
    try {
      file = await reader.read(join(root, id), limits.maxFileBytes);
    } catch (e) {
      throw new SslmemError("image_invalid", `point ${quoteId(id)}: the file ${errnoReason(e)}`, { id }, { cause: e });
    }
    if (!file.isFile) throw new SslmemError("image_invalid", `point ${quoteId(id)}: is no longer a regular file`, { id });
    if (file.bytes === null) throw imageFileTooLarge(id, file.size, limits.maxFileBytes);
    return decodeImage(file.bytes, id, limits);
  };
  return makePointSet({ kind: "directory", points, skipped, loadPoint, close: () => reader.close() });
}
