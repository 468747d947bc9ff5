import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openPointSet } from "../../src/data/sources.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { encodeRgb, solidPng } from "../helpers/data-png.ts";
import { tempDir } from "../helpers/data-tmp.ts";
import { writeZip } from "../helpers/data-zip.ts";

const RED = solidPng(2, 2, [255, 0, 0]);
const GREEN = solidPng(2, 2, [0, 255, 0]);

async function put(root: string, rel: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(root, rel);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, bytes);
  return path;
}

/** A folder with nested images, non-images, a misnamed image, links and a FIFO. */
async function sampleFolder(t: TestContext): Promise<{ root: string; outside: string }> {
  const root = await tempDir(t);
  const outside = await tempDir(t);
  await put(root, "z.png", RED);
  await put(root, "a/b/c.png", GREEN);
  await put(root, "a/UPPER.JPG", await encodeRgb(2, 2, new Array(12).fill(128), "jpeg"));
  await put(root, "a/readme.txt", "a note, not an image");
  await put(root, "misnamed.txt", RED); // a PNG under a text name is a point
  await put(root, "fake.png", "text under an image name"); // and the reverse is not
  await put(root, "empty.png", "");
  await put(root, "inner.zip", writeZip([{ name: "x.png", data: RED }]));
  await put(outside, "secret.png", RED);
  await symlink(join(outside, "secret.png"), join(root, "link-out.png"));
  await symlink(outside, join(root, "link-dir"));
  try {
    execFileSync("mkfifo", [join(root, "pipe.png")]);
  } catch {
    // no mkfifo on this system: the FIFO case is then simply absent
  }
  return { root, outside };
}

test("directory: recursive, content-sniffed, sorted POSIX ids; everything else skipped with a reason", async (t) => {
  const { root } = await sampleFolder(t);
  const set = await openPointSet(root);
  t.after(() => set.close());
  assert.equal(set.kind, "directory");
  assert.deepEqual(set.ids, ["a/UPPER.JPG", "a/b/c.png", "misnamed.txt", "z.png"]);
  const reasons = Object.fromEntries(set.skipped.map((s) => [s.id, s.reason]));
  assert.equal(reasons["a/readme.txt"], "not an image (content is not PNG, JPEG, WebP, GIF or TIFF)");
  assert.equal(reasons["fake.png"], "not an image (content is not PNG, JPEG, WebP, GIF or TIFF)");
  assert.equal(reasons["empty.png"], "empty file");
  assert.equal(reasons["inner.zip"], "nested zip archive is not opened; extract it into the set instead");
  assert.equal(reasons["link-out.png"], "symbolic link (not followed)");
  assert.equal(reasons["link-dir"], "symbolic link (not followed)");
  if ("pipe.png" in reasons) assert.equal(reasons["pipe.png"], "not a regular file");
  assert.deepEqual([...(await set.load(1)).data.subarray(0, 3)], [0, 255, 0]);
  assert.deepEqual([...(await set.load(2)).data.subarray(0, 3)], [255, 0, 0]);
});

test("directory: the order is the same however the files were created", async (t) => {
  const one = await tempDir(t);
  const two = await tempDir(t);
  const names = ["b.png", "a/2.png", "a/10.png", "c/x/y.png", "B.png"];
  for (const n of names) await put(one, n, RED);
  for (const n of [...names].reverse()) await put(two, n, RED);
  const [s1, s2] = [await openPointSet(one), await openPointSet(two)];
  t.after(() => Promise.all([s1.close(), s2.close()]));
  assert.deepEqual(s1.ids, ["B.png", "a/10.png", "a/2.png", "b.png", "c/x/y.png"]);
  assert.deepEqual(s2.ids, s1.ids);
});

test("directory: a corrupt image fails at load with image_invalid naming the id, not the path", async (t) => {
  const root = await tempDir(t);
  await put(root, "ok.png", RED);
  await put(root, "sub/broken.png", RED.subarray(0, 40));
  const set = await openPointSet(root);
  t.after(() => set.close());
  const e = await rejectsWithCode(set.load(1), "image_invalid");
  assert.match(e.message, /"sub\/broken\.png"/);
  assert.ok(!e.message.includes(root));
});

test("directory: a file removed or swapped for a symlink after opening fails at load with image_invalid", async (t) => {
  const { root, outside } = await sampleFolder(t);
  const set = await openPointSet(root);
  t.after(() => set.close());
  await rm(join(root, "z.png"));
  await symlink(join(outside, "secret.png"), join(root, "z.png"));
  const swapped = await rejectsWithCode(set.load(set.ids.indexOf("z.png")), "image_invalid");
  assert.match(swapped.message, /symbolic link/);
  await rm(join(root, "misnamed.txt"));
  await rejectsWithCode(set.load(set.ids.indexOf("misnamed.txt")), "image_invalid");
});

test("directory: limits — maxPoints → too_many_points; maxFileBytes at load → image_too_large", async (t) => {
  const root = await tempDir(t);
  await put(root, "a.png", RED);
  await put(root, "b.png", GREEN);
  await rejectsWithCode(openPointSet(root, { maxPoints: 1 }), "too_many_points");
  const set = await openPointSet(root, { maxFileBytes: RED.length - 1 });
  t.after(() => set.close());
  await rejectsWithCode(set.load(0), "image_too_large");
});

test("directory: empty, or holding no images → candidates_empty (the message says why)", async (t) => {
  await rejectsWithCode(openPointSet(await tempDir(t)), "candidates_empty");
  const root = await tempDir(t);
  await put(root, "notes.txt", "hello");
  const e = await rejectsWithCode(openPointSet(root), "candidates_empty");
  assert.match(e.message, /"notes\.txt": not an image/);
});
