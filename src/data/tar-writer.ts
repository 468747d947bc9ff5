/**
 * Packs a directory of images into an uncompressed ustar stream, so that `sslmem audit --server`
 * can upload a directory as one content-addressed blob. Member names are the POSIX paths relative
 * to the root — the point ids the server will see, identical to a local audit's ids. Long names use
 * a pax `path` record. Symlinks and special files are not followed or packed (the local reader
 * skips them too).
 */
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join, posix } from "node:path";
import { Readable } from "node:stream";

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(0, 12), 136, "latin1"); // mtime 0: the same tree always packs to the same bytes
  h.write(type, 156, "latin1");
  h.write("ustar\u000000", 257, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "latin1");
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, "utf8");
}

/** Regular files below `root`, as sorted POSIX relative paths (symlinks and specials skipped). */
export async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = rel ? posix.join(rel, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

async function* tarChunks(root: string, files: string[]): AsyncGenerator<Buffer> {
  for (const rel of files) {
    const { size } = await lstat(join(root, rel));
    if (Buffer.byteLength(rel) > 100) {
      const pax = paxRecord("path", rel);
      yield header("PaxHeader", pax.length, "x");
      yield pax;
      yield padding(pax.length);
    }
    yield header(Buffer.byteLength(rel) > 100 ? rel.slice(0, 90) : rel, size, "0");
    let written = 0;
    for await (const chunk of createReadStream(join(root, rel))) {
      const buf = chunk as Buffer;
      // A file that grew while packing is cut at the size in its header; one that shrank is padded.
      const take = buf.subarray(0, Math.max(0, size - written));
      written += take.length;
      yield take;
      if (written >= size) break;
    }
    if (written < size) yield Buffer.alloc(size - written);
    yield padding(size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * Drops empty chunks: a zero-length chunk (the padding of a file whose size is a whole number of
 * blocks) stalls fetch's streamed request body (undici), and the upload then times out.
 */
async function* nonEmpty(chunks: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  for await (const c of chunks) if (c.length > 0) yield c;
}

/** A readable tar stream of the directory, and the list of members it will contain. */
export async function packDirectory(root: string): Promise<{ stream: Readable; files: string[] }> {
  const files = await listFiles(root);
  return { stream: Readable.from(nonEmpty(tarChunks(root, files))), files };
}
