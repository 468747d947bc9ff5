/**
 * packDirectory (the CLI's upload of a folder): the tar it streams reads back member for member,
 * and no chunk is empty — a zero-length chunk (the padding after a file of whole blocks) stalled
 * fetch's streamed upload body until the server timed it out.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packDirectory } from "../../src/data/tar-writer.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

test("packDirectory streams no empty chunk, and files of whole blocks keep their bytes", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "sub"));
  const files: Record<string, Buffer> = { "a.bin": Buffer.alloc(1024, 7), "sub/b.txt": Buffer.from("hello"), "sub/c.bin": Buffer.alloc(512, 3) };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  const { stream, files: listed } = await packDirectory(dir);
  assert.deepEqual(listed, Object.keys(files));
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  assert.deepEqual(chunks.filter((c) => c.length === 0).length, 0, "no empty chunk");
  const tar = Buffer.concat(chunks);
  let pos = 0;
  for (const [name, data] of Object.entries(files)) {
    assert.equal(tar.subarray(pos, pos + name.length).toString(), name);
    assert.equal(parseInt(tar.subarray(pos + 124, pos + 136).toString(), 8), data.length);
    assert.deepEqual(tar.subarray(pos + 512, pos + 512 + data.length), data);
    pos += 512 + Math.ceil(data.length / 512) * 512;
  }
  assert.equal(tar.length, pos + 1024, "two zero blocks end the archive");
});
