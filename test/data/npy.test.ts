import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type { IngestLimits } from "../../src/data/limits.ts";
import { parseNpyHeader } from "../../src/data/npy.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { tempDir } from "../helpers/data-tmp.ts";

async function npyFile(t: TestContext, bytes: Buffer): Promise<string> {
  const path = join(await tempDir(t), "points.npy");
  await writeFile(path, bytes);
  return path;
}

async function open(t: TestContext, bytes: Buffer, limits: Partial<IngestLimits> = {}) {
  const set = await openPointSet(await npyFile(t, bytes), limits);
  t.after(() => set.close());
  return set;
}

const seq = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) % 256);

test("npy header dict literal parses (numpy's own spelling)", () => {
  assert.deepEqual(parseNpyHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4, 5, 3), }   \n"), {
    descr: "|u1",
    fortranOrder: false,
    shape: [2, 4, 5, 3],
  });
  assert.deepEqual(parseNpyHeader("{'shape': (7L, 2L, 2L), 'fortran_order': True, 'descr': '<u1'}").shape, [7, 2, 2]);
});

test("npy RGB [N,H,W,3]: ids are decimal indices in order; image i is read at its offset", async (t) => {
  const data = seq(3 * 2 * 2 * 3);
  const set = await open(t, writeNpy({ shape: [3, 2, 2, 3], data }));
  assert.equal(set.kind, "npy");
  assert.deepEqual(set.ids, ["0", "1", "2"]);
  const img = await set.load(2);
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  assert.deepEqual([...img.data], [...data.subarray(24, 36)]);
});

test("npy grey [N,H,W] and [N,H,W,1] replicate; RGBA drops alpha", async (t) => {
  const grey = await open(t, writeNpy({ shape: [2, 1, 2], data: Uint8Array.from([1, 2, 3, 4]) }));
  assert.deepEqual([...(await grey.load(1)).data], [3, 3, 3, 4, 4, 4]);
  const grey1 = await open(t, writeNpy({ shape: [1, 1, 2, 1], data: Uint8Array.from([9, 8]), version: 2 }));
  assert.deepEqual([...(await grey1.load(0)).data], [9, 9, 9, 8, 8, 8]);
  const rgba = await open(t, writeNpy({ shape: [1, 1, 2, 4], data: Uint8Array.from([1, 2, 3, 0, 5, 6, 7, 255]), version: 3 }));
  assert.deepEqual([...(await rgba.load(0)).data], [1, 2, 3, 5, 6, 7]);
});

test("npy with more than 12 points keeps numeric order (not lexicographic)", async (t) => {
  const set = await open(t, writeNpy({ shape: [12, 1, 1], data: seq(12) }));
  assert.deepEqual(set.ids.slice(9), ["9", "10", "11"]);
  assert.deepEqual([...(await set.load(10)).data], [10, 10, 10]);
});

const refused: [string, Parameters<typeof writeNpy>[0], string, RegExp][] = [
  ["float32 dtype", { shape: [1, 1, 1, 3], data: new Uint8Array(12), descr: "<f4" }, "archive_invalid", /dtype "<f4".*uint8/],
  ["Fortran order", { shape: [1, 2, 2, 3], data: new Uint8Array(12), fortranOrder: true }, "archive_invalid", /Fortran/],
  ["two channels", { shape: [1, 1, 1, 2], data: new Uint8Array(2) }, "archive_invalid", /2 channels/],
  ["channels first", { shape: [1, 3, 5, 5], data: new Uint8Array(75) }, "archive_invalid", /5 channels.*channels last/],
  ["a flat vector", { shape: [5], data: new Uint8Array(5) }, "archive_invalid", /shape/],
  ["truncated data", { shape: [2, 2, 2, 3], data: new Uint8Array(23) }, "archive_invalid", /truncated/],
  ["zero images", { shape: [0, 2, 2, 3], data: new Uint8Array(0) }, "candidates_empty", /no images/],
];

for (const [what, spec, code, message] of refused) {
  test(`npy refused: ${what} → ${code}`, async (t) => {
    const e = await rejectsWithCode(openPointSet(await npyFile(t, writeNpy(spec))), code);
    assert.match(e.message, message);
  });
}

test("npy: too many points → too_many_points; images over maxPixels → image_too_large", async (t) => {
  const path = await npyFile(t, writeNpy({ shape: [3, 2, 2], data: new Uint8Array(12) }));
  await rejectsWithCode(openPointSet(path, { maxPoints: 2 }), "too_many_points");
  await rejectsWithCode(openPointSet(path, { maxPixels: 3 }), "image_too_large");
});

test("npy: a corrupt header or unsupported version → archive_invalid", async (t) => {
  const good = writeNpy({ shape: [1, 1, 1], data: new Uint8Array(1) });
  const v9 = Buffer.from(good);
  v9[6] = 9;
  await rejectsWithCode(openPointSet(await npyFile(t, v9)), "archive_invalid");
  const garbled = Buffer.from(good);
  garbled.write("[not a dict]", 10, "latin1");
  garbled.write("!", 10 + garbled.readUInt16LE(8) - 2, "latin1");
  await rejectsWithCode(openPointSet(await npyFile(t, garbled)), "archive_invalid");
});
