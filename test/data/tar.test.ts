import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { gzipSync } from "node:zlib";
import type { IngestLimits } from "../../src/data/limits.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { PNG_SIGNATURE, solidPng } from "../helpers/data-png.ts";
import { writeTar, writeTarGz, type TarEntry } from "../helpers/data-tar.ts";
import { tempDir } from "../helpers/data-tmp.ts";
import { writeZip } from "../helpers/data-zip.ts";

const RED = solidPng(2, 2, [255, 0, 0]);
const GREEN = solidPng(2, 2, [0, 255, 0]);
const BLUE = solidPng(2, 2, [0, 0, 255]);

const SAMPLE: TarEntry[] = [
  { name: "b/", type: "5" },
  { name: "b/2.png", data: RED },
  { name: "a.png", data: GREEN },
  { name: "b/1.png", data: BLUE },
  { name: "notes.txt", data: Buffer.from("not an image") },
];

async function archiveFile(t: TestContext, bytes: Buffer, name = "set.tar"): Promise<{ path: string; dir: string }> {
  const dir = await tempDir(t);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, dir };
}

async function open(t: TestContext, bytes: Buffer, limits: Partial<IngestLimits> = {}) {
  const { path, dir } = await archiveFile(t, bytes);
  const set = await openPointSet(path, limits);
  t.after(() => set.close());
  return { set, dir };
}

test("tar: ids sorted, folders ignored, non-images skipped, points decoded lazily", async (t) => {
  const { set } = await open(t, writeTar(SAMPLE));
  assert.equal(set.kind, "tar");
  assert.deepEqual(set.ids, ["a.png", "b/1.png", "b/2.png"]);
  assert.equal(set.size, 3);
  assert.deepEqual(set.skipped, [{ id: "notes.txt", reason: "not an image (content is not PNG, JPEG, WebP, GIF or TIFF)" }]);
  assert.deepEqual([...(await set.load(1)).data.subarray(0, 3)], [0, 0, 255]);
  assert.deepEqual([...(await set.load(2)).data.subarray(0, 3)], [255, 0, 0]);
  await assert.rejects(set.load(3), RangeError);
});

test("tar: long names by ustar prefix, GNU 'L' and pax 'path' all resolve; no end blocks is accepted", async (t) => {
  const deep = `${"d".repeat(60)}/${"e".repeat(60)}`;
  const { set } = await open(
    t,
    writeTar(
      [
        { name: `${deep}/prefix.png`, data: RED, longName: "prefix" },
        { name: `${deep}/gnu-${"g".repeat(120)}.png`, data: GREEN, longName: "gnu" },
        { name: `${deep}/pax-${"p".repeat(200)}.png`, data: BLUE, longName: "pax" },
        { name: "./dot/x.png", data: RED },
      ],
      { endBlocks: false },
    ),
  );
  assert.deepEqual(set.ids, [`${deep}/gnu-${"g".repeat(120)}.png`, `${deep}/pax-${"p".repeat(200)}.png`, `${deep}/prefix.png`, "dot/x.png"]);
  assert.deepEqual([...(await set.load(1)).data.subarray(0, 3)], [0, 0, 255]);
});

test("tar: nested archives and empty files are skipped with a reason", async (t) => {
  const { set } = await open(
    t,
    writeTar([
      { name: "a.png", data: RED },
      { name: "inner.zip", data: writeZip([{ name: "x.png", data: RED }]) },
      { name: "inner.tar.gz", data: writeTarGz([{ name: "x.png", data: RED }]) },
      { name: "empty.png", data: Buffer.alloc(0) },
    ]),
  );
  assert.deepEqual(set.ids, ["a.png"]);
  assert.deepEqual(
    set.skipped.map((s) => [s.id, s.reason]),
    [
      ["empty.png", "empty file"],
      ["inner.tar.gz", "nested gzip archive is not opened; extract it into the set instead"],
      ["inner.zip", "nested zip archive is not opened; extract it into the set instead"],
    ],
  );
});

test("tar: a member with an image signature but corrupt data fails at load with image_invalid and its id", async (t) => {
  const corrupt = Buffer.concat([PNG_SIGNATURE, Buffer.from("garbage garbage garbage")]);
  const { set, dir } = await open(t, writeTar([{ name: "bad.png", data: corrupt }, { name: "ok.png", data: RED }]));
  const e = await rejectsWithCode(set.load(0), "image_invalid");
  assert.match(e.message, /"bad\.png"/);
  assert.ok(!e.message.includes(dir), "no filesystem path in the message");
  assert.equal((await set.load(1)).width, 2);
});

test("tar: a member over maxFileBytes is refused at load with image_too_large", async (t) => {
  const { set } = await open(t, writeTar([{ name: "a.png", data: RED }]), { maxFileBytes: RED.length - 1 });
  await rejectsWithCode(set.load(0), "image_too_large");
});

test("tar.gz: same ids and pixels as the tar; the temporary file is removed on close", async (t) => {
  const { path } = await archiveFile(t, writeTarGz(SAMPLE), "upload-blob");
  const scratch = await tempDir(t);
  const set = await openPointSet(path, {}, { tmpDir: scratch });
  assert.equal(set.kind, "tar.gz");
  assert.deepEqual(set.ids, ["a.png", "b/1.png", "b/2.png"]);
  assert.deepEqual([...(await set.load(0)).data.subarray(0, 3)], [0, 255, 0]);
  assert.equal((await readdir(scratch)).length, 1);
  await set.close();
  await set.close();
  assert.deepEqual(await readdir(scratch), []);
});

const hostile: [string, TarEntry[], string, RegExp?][] = [
  ["traversal", [{ name: "../evil.png", data: RED }], "archive_unsafe", /"\.\.\/evil\.png"/],
  ["traversal inside", [{ name: "a/../../evil.png", data: RED }], "archive_unsafe"],
  ["absolute path", [{ name: "/etc/evil.png", data: RED }], "archive_unsafe", /absolute/],
  ["traversal by pax path", [{ name: "ok.png", data: RED, pax: { path: "../../evil.png" } }], "archive_unsafe"],
  ["traversal by GNU long name", [{ name: `../${"x".repeat(120)}.png`, data: RED, longName: "gnu" }], "archive_unsafe"],
  ["symlink member", [{ name: "a.png", data: RED }, { name: "link.png", type: "2", linkName: "/etc/passwd" }], "archive_unsafe", /symbolic link/],
  ["hardlink member", [{ name: "a.png", data: RED }, { name: "hard.png", type: "1", linkName: "a.png" }], "archive_unsafe", /hard link/],
  ["FIFO member", [{ name: "fifo", type: "6" }], "archive_unsafe"],
  ["duplicate member", [{ name: "a.png", data: RED }, { name: "./a.png", data: GREEN }], "archive_invalid", /"a\.png" appears more than once/],
  ["sparse member", [{ name: "s.png", type: "S", data: RED }], "archive_invalid"],
];

for (const [what, entries, code, message] of hostile) {
  test(`hostile tar: ${what} → ${code}`, async (t) => {
    const { path, dir } = await archiveFile(t, writeTar(entries));
    const e = await rejectsWithCode(openPointSet(path), code);
    if (message) assert.match(e.message, message);
    assert.ok(!e.message.includes(dir));
  });
}

test("hostile tar: more entries than maxArchiveEntries → archive_too_large", async (t) => {
  const entries = ["a", "b", "c", "d"].map((n) => ({ name: `${n}.png`, data: RED }));
  const { path } = await archiveFile(t, writeTar(entries));
  await rejectsWithCode(openPointSet(path, { maxArchiveEntries: 3 }), "archive_too_large");
  const ok = await openPointSet(path, { maxArchiveEntries: 4 });
  assert.equal(ok.size, 4);
  await ok.close();
});

test("hostile tar: members adding up past maxExpandedBytes → archive_too_large", async (t) => {
  const { path } = await archiveFile(t, writeTar([{ name: "a.png", data: RED }, { name: "b.png", data: GREEN }]));
  await rejectsWithCode(openPointSet(path, { maxExpandedBytes: RED.length + GREEN.length - 1 }), "archive_too_large");
});

test("hostile tar: more images than maxPoints → too_many_points", async (t) => {
  const { path } = await archiveFile(t, writeTar(SAMPLE));
  await rejectsWithCode(openPointSet(path, { maxPoints: 2 }), "too_many_points");
});

test("hostile tar: truncated inside a member, inside a header, or with a corrupt checksum → archive_invalid", async (t) => {
  const tar = writeTar(SAMPLE);
  // Blocks: 0 "b/" header, 1 "b/2.png" header, 2 its 74 data bytes + padding, 3 "a.png" header, …
  for (const cut of [512 * 2 + 40, 512 * 2 + 100, 512 * 3 + 100]) {
    const path = (await archiveFile(t, tar.subarray(0, cut))).path; // in data, in padding, in a header
    await rejectsWithCode(openPointSet(path), "archive_invalid");
  }
  const flipped = Buffer.from(tar);
  flipped[512 + 10] ^= 0x01; // a name byte of the second header
  await rejectsWithCode(openPointSet((await archiveFile(t, flipped)).path), "archive_invalid");
});

test("hostile tar.gz: a gzip bomb is stopped by the expansion ratio → archive_too_large, temp removed", async (t) => {
  const bomb = writeTarGz([{ name: "zeros.bin", data: Buffer.alloc(8 * 1024 * 1024) }]);
  assert.ok(bomb.length < 64 * 1024, "the bomb really is small");
  const { path } = await archiveFile(t, bomb);
  const scratch = await tempDir(t);
  const e = await rejectsWithCode(openPointSet(path, { ratioGraceBytes: 1024 * 1024 }, { tmpDir: scratch }), "archive_too_large");
  assert.match(e.message, /200×/);
  assert.deepEqual(await readdir(scratch), []);
});

test("hostile tar.gz: expansion past maxExpandedBytes → archive_too_large", async (t) => {
  const { path } = await archiveFile(t, writeTarGz(SAMPLE));
  await rejectsWithCode(openPointSet(path, { maxExpandedBytes: 2048 }), "archive_too_large");
});

test("hostile tar.gz: truncated gzip, or gzip of something that is not a tar → archive_invalid", async (t) => {
  const gz = writeTarGz(SAMPLE);
  const scratch = await tempDir(t);
  await rejectsWithCode(openPointSet((await archiveFile(t, gz.subarray(0, gz.length - 30))).path, {}, { tmpDir: scratch }), "archive_invalid");
  const notTar = gzipSync(Buffer.from("just some text, not a tar archive"));
  await rejectsWithCode(openPointSet((await archiveFile(t, notTar)).path, {}, { tmpDir: scratch }), "archive_invalid");
  assert.deepEqual(await readdir(scratch), []);
});

test("hostile tar.gz: an unsafe member → archive_unsafe, and the decompressed copy is removed", async (t) => {
  const { path } = await archiveFile(t, writeTarGz([{ name: "a.png", data: RED }, { name: "../../evil.png", data: RED }]));
  const scratch = await tempDir(t);
  await rejectsWithCode(openPointSet(path, {}, { tmpDir: scratch }), "archive_unsafe");
  assert.deepEqual(await readdir(scratch), []);
});
