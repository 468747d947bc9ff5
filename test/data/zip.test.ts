import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type { IngestLimits } from "../../src/data/limits.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { solidPng } from "../helpers/data-png.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { tempDir } from "../helpers/data-tmp.ts";
import { writeZip, zipEnd, zipMember, type ZipEntry } from "../helpers/data-zip.ts";

const RED = solidPng(2, 2, [255, 0, 0]);
const GREEN = solidPng(2, 2, [0, 255, 0]);
const BLUE = solidPng(3, 1, [0, 0, 255]);
const MiB = 1024 * 1024;

const SAMPLE: ZipEntry[] = [
  { name: "b/", method: 0 },
  { name: "b/2.png", data: RED, method: 0 },
  { name: "a.png", data: GREEN, method: 8 },
  { name: "b/1.png", data: BLUE, method: 8 },
  { name: "readme.md", data: Buffer.from("# not an image\n".repeat(20)), method: 8 },
];

async function zipFile(t: TestContext, bytes: Buffer): Promise<{ path: string; dir: string }> {
  const dir = await tempDir(t);
  const path = join(dir, "set.zip");
  await writeFile(path, bytes);
  return { path, dir };
}

async function open(t: TestContext, bytes: Buffer, limits: Partial<IngestLimits> = {}) {
  const { path, dir } = await zipFile(t, bytes);
  const set = await openPointSet(path, limits);
  t.after(() => set.close());
  return { set, dir };
}

async function firstPixel(set: { load(i: number): Promise<{ data: Uint8Array }> }, i: number) {
  return [...(await set.load(i)).data.subarray(0, 3)];
}

for (const variant of ["plain", "data descriptors", "zip64 records"] as const) {
  test(`zip (${variant}): stored and deflate members, sorted ids, non-images skipped`, async (t) => {
    const entries = SAMPLE.map((e) => ({ ...e, dataDescriptor: variant === "data descriptors" }));
    const { set } = await open(t, writeZip(entries, { zip64: variant === "zip64 records" }));
    assert.equal(set.kind, "zip");
    assert.deepEqual(set.ids, ["a.png", "b/1.png", "b/2.png"]);
    assert.deepEqual(set.skipped.map((s) => s.id), ["readme.md"]);
    assert.deepEqual(await firstPixel(set, 0), [0, 255, 0]);
    assert.deepEqual(await firstPixel(set, 1), [0, 0, 255]);
    assert.equal((await set.load(1)).width, 3);
    assert.deepEqual(await firstPixel(set, 2), [255, 0, 0]);
  });
}

test("zip: ids match those of the same set as a tar", async (t) => {
  const { set: zip } = await open(t, writeZip(SAMPLE));
  const dir = await tempDir(t);
  await writeFile(join(dir, "s.tar"), writeTar(SAMPLE.map((e) => ({ name: e.name, data: e.data, type: e.name.endsWith("/") ? "5" : "0" }))));
  const tar = await openPointSet(join(dir, "s.tar"));
  t.after(() => tar.close());
  assert.deepEqual(zip.ids, tar.ids);
});

test("zip: nested archives are skipped with a reason", async (t) => {
  const { set } = await open(t, writeZip([{ name: "a.png", data: RED }, { name: "in.zip", data: writeZip([{ name: "x.png", data: RED }]) }]));
  assert.deepEqual(set.skipped, [{ id: "in.zip", reason: "nested zip archive is not opened; extract it into the set instead" }]);
});

const hostile: [string, ZipEntry[], string, RegExp?][] = [
  ["traversal", [{ name: "../evil.png", data: RED }], "archive_unsafe", /"\.\.\/evil\.png"/],
  ["backslash traversal", [{ name: "..\\..\\evil.png", data: RED }], "archive_unsafe"],
  ["absolute path", [{ name: "/tmp/evil.png", data: RED }], "archive_unsafe", /absolute/],
  ["traversal in a folder entry", [{ name: "../d/" }, { name: "a.png", data: RED }], "archive_unsafe"],
  ["symlink member", [{ name: "a.png", data: RED }, { name: "l.png", data: Buffer.from("/etc/passwd"), symlink: true, method: 0 }], "archive_unsafe", /symbolic link/],
  ["duplicate member", [{ name: "a.png", data: RED }, { name: "./a.png", data: GREEN }], "archive_invalid", /"a\.png" appears more than once/],
  ["encrypted member", [{ name: "a.png", data: RED, flags: 1 }], "archive_invalid", /encrypted/],
  ["unsupported method", [{ name: "a.png", data: RED, method: 12 }], "archive_invalid", /method 12/],
];

for (const [what, entries, code, message] of hostile) {
  test(`hostile zip: ${what} → ${code}`, async (t) => {
    const { path, dir } = await zipFile(t, writeZip(entries));
    const e = await rejectsWithCode(openPointSet(path), code);
    if (message) assert.match(e.message, message);
    assert.ok(!e.message.includes(dir));
  });
}

test("hostile zip: a member whose ratio exceeds maxExpansionRatio → archive_too_large", async (t) => {
  const bomb = writeZip([{ name: "a.png", data: RED }, { name: "zeros.png", data: Buffer.alloc(4 * MiB) }]);
  assert.ok(bomb.length < 16 * 1024);
  const { path } = await zipFile(t, bomb);
  const e = await rejectsWithCode(openPointSet(path, { ratioGraceBytes: MiB }), "archive_too_large");
  assert.match(e.message, /"zeros\.png"/);
});

test("hostile zip: many small members that add up past the ratio → archive_too_large", async (t) => {
  const entries = [0, 1, 2, 3].map((i) => ({ name: `z${i}.bin`, data: Buffer.alloc(MiB / 2) }));
  const { path } = await zipFile(t, writeZip(entries));
  // Each member stays under the grace; the archive as a whole does not.
  await rejectsWithCode(openPointSet(path, { ratioGraceBytes: MiB }), "archive_too_large");
});

test("hostile zip: overlapping members (a zip-bomb construction) → archive_unsafe", async (t) => {
  const inner = zipMember({ name: "b.png", data: RED, method: 0 });
  const outer = zipMember({ name: "a.png", data: inner.local, method: 0 });
  const innerOffset = 30 + "a.png".length; // b.png's local header lies inside a.png's data
  const directory = Buffer.concat([outer.central(0), inner.central(innerOffset)]);
  const zip = Buffer.concat([outer.local, directory, zipEnd(2, outer.local.length, directory.length)]);
  await rejectsWithCode(openPointSet((await zipFile(t, zip)).path), "archive_unsafe");
});

test("hostile zip: more entries than maxArchiveEntries → archive_too_large", async (t) => {
  const { path } = await zipFile(t, writeZip(["a", "b", "c", "d"].map((n) => ({ name: `${n}.png`, data: RED }))));
  await rejectsWithCode(openPointSet(path, { maxArchiveEntries: 3 }), "archive_too_large");
});

test("hostile zip: more images than maxPoints → too_many_points", async (t) => {
  const { path } = await zipFile(t, writeZip(SAMPLE));
  await rejectsWithCode(openPointSet(path, { maxPoints: 2 }), "too_many_points");
});

test("hostile zip: a member that lies about its size, or fails its CRC, fails at load → archive_invalid", async (t) => {
  const { set } = await open(
    t,
    writeZip([
      { name: "a.png", data: RED, declaredSize: 20 },
      { name: "b.png", data: GREEN, declaredCrc: 12345 },
      { name: "c.png", data: BLUE, method: 0, declaredCrc: 1 },
    ]),
  );
  for (const i of [0, 1, 2]) {
    const e = await rejectsWithCode(set.load(i), "archive_invalid");
    assert.match(e.message, new RegExp(`"${set.ids[i].replace(".", "\\.")}"`));
  }
});

test("hostile zip: truncated or corrupt → archive_invalid", async (t) => {
  const zip = writeZip(SAMPLE);
  const cuts = [zip.subarray(0, zip.length - 10), zip.subarray(0, zip.length >> 1), zip.subarray(0, 10)];
  for (const bytes of cuts) await rejectsWithCode(openPointSet((await zipFile(t, Buffer.from(bytes))).path), "archive_invalid");
  // A central directory record with a broken signature.
  const broken = Buffer.from(zip);
  const cd = broken.readUInt32LE(broken.length - 6);
  broken[cd] ^= 0xff;
  await rejectsWithCode(openPointSet((await zipFile(t, broken)).path), "archive_invalid");
  // A local header that names a different file than the central directory.
  const renamed = Buffer.from(zip);
  const at = renamed.indexOf("a.png");
  renamed.write("x", at, "latin1");
  await rejectsWithCode(openPointSet((await zipFile(t, renamed)).path), "archive_invalid");
});
