/**
 * Reading a folder's files (src/data/regular-file.ts): the worker thread's whole-file reads and
 * the libuv path agree on every case (a regular file, one over the size limit, a FIFO, a link, a
 * missing file), many reads in one turn go in one message and each gets its own file, and a
 * worker that fails leaves the reads to the libuv path.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { FileReader, readRegularFile, type RegularFileRead } from "../../src/data/regular-file.ts";
import { tempDir } from "../helpers/data-tmp.ts";

/** A file of `n` bytes whose content names it. */
const content = (name: string, n: number) => new TextEncoder().encode(name.repeat(Math.ceil(n / name.length)).slice(0, n));

const text = (read: RegularFileRead) => (read.isFile && read.bytes ? new TextDecoder().decode(read.bytes) : null);

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  assert.fail("the read did not fail");
}

test("file reader: the worker and the libuv path read alike — whole files, the size limit, FIFOs, links, missing files", async (t) => {
  const root = await tempDir(t);
  const outside = await tempDir(t);
  await writeFile(join(root, "small"), content("small", 10));
  await writeFile(join(root, "big"), content("big", 100_000));
  await writeFile(join(root, "empty"), "");
  await writeFile(join(outside, "secret"), "secret");
  await symlink(join(outside, "secret"), join(root, "link"));
  await mkdir(join(root, "dir"));
  let fifo = false;
  try {
    execFileSync("mkfifo", [join(root, "pipe")]);
    fifo = true;
  } catch {
    // no mkfifo here: that case is absent
  }
  const reader = new FileReader();
  t.after(() => reader.close());
  for (const read of [(p: string, max: number) => reader.read(p, max), (p: string, max: number) => readRegularFile(p, { maxBytes: max })]) {
    assert.equal(text(await read(join(root, "small"), 10)), "smallsmall");
    assert.equal(text(await read(join(root, "big"), 1 << 20))?.length, 100_000);
    assert.deepEqual(await read(join(root, "big"), 99_999), { isFile: true, size: 100_000, bytes: null }, "over the limit: not read, its size returned");
    const empty = await read(join(root, "empty"), 10);
    assert.ok(empty.isFile && empty.size === 0 && empty.bytes?.length === 0);
    assert.deepEqual(await read(join(root, "dir"), 10), { isFile: false });
    if (fifo) assert.deepEqual(await read(join(root, "pipe"), 10), { isFile: false }, "a FIFO is opened without waiting and not read");
    assert.equal(await codeOf(read(join(root, "link"), 10)), "ELOOP", "links are not followed");
    assert.equal(await codeOf(read(join(root, "missing"), 10)), "ENOENT");
  }
  // The libuv path's head reads (the folder's sniffing pass).
  assert.equal(text(await readRegularFile(join(root, "big"), { head: 6 })), "bigbig");
  assert.equal(text(await readRegularFile(join(root, "small"), { head: 100 })), "smallsmall");
});

test("file reader: reads asked for together each get their own file; close refuses the outstanding ones, a later read starts again", async (t) => {
  const root = await tempDir(t);
  const names = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, "0")}-`);
  await Promise.all(names.map((n, i) => writeFile(join(root, n), content(n, 50 + i * 37))));
  const reader = new FileReader();
  t.after(() => reader.close());
  const reads = await Promise.all(names.map((n) => reader.read(join(root, n), 1 << 20)));
  reads.forEach((r, i) => assert.equal(text(r), new TextDecoder().decode(content(names[i], 50 + i * 37)), names[i]));

  const outstanding = reader.read(join(root, names[0]), 1 << 20);
  const closing = reader.close();
  await assert.rejects(outstanding, /closed/);
  await closing;
  assert.equal(text(await reader.read(join(root, names[1]), 1 << 20)), new TextDecoder().decode(content(names[1], 87)));
});

test("file reader: a worker that fails leaves its reads and later ones to the libuv path", async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, "a"), "alpha");
  await writeFile(join(root, "b"), "beta");
  const reader = new FileReader("throw new Error('the worker cannot start')");
  t.after(() => reader.close());
  const [a, b] = await Promise.all([reader.read(join(root, "a"), 100), reader.read(join(root, "b"), 100)]);
  assert.deepEqual([text(a), text(b)], ["alpha", "beta"]);
  assert.equal(text(await reader.read(join(root, "a"), 100)), "alpha");
  assert.equal(await codeOf(reader.read(join(root, "missing"), 100)), "ENOENT");
});
