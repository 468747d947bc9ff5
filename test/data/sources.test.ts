import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { DEFAULT_INGEST_LIMITS, resolveIngestLimits } from "../../src/data/limits.ts";
import { openPointSet } from "../../src/data/sources.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { solidPng } from "../helpers/data-png.ts";
import { writeTar, writeTarGz } from "../helpers/data-tar.ts";
import { tempDir } from "../helpers/data-tmp.ts";
import { writeZip, zipEnd } from "../helpers/data-zip.ts";

const RED = solidPng(2, 2, [255, 0, 0]);

async function file(t: TestContext, name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(await tempDir(t), name);
  await writeFile(path, bytes);
  return path;
}

test("the kind is read from the content, not from the name", async (t) => {
  const cases: [string, Buffer, string][] = [
    ["set.tar", writeZip([{ name: "a.png", data: RED }]), "zip"],
    ["set.zip", writeTar([{ name: "a.png", data: RED }]), "tar"],
    ["blob-1", writeTarGz([{ name: "a.png", data: RED }]), "tar.gz"],
    ["blob-2", writeNpy({ shape: [1, 2, 2, 3], data: new Uint8Array(12) }), "npy"],
  ];
  for (const [name, bytes, kind] of cases) {
    const set = await openPointSet(await file(t, name, bytes), {}, { tmpDir: await tempDir(t) });
    assert.equal(set.kind, kind, name);
    assert.equal(set.size, 1);
    await set.close();
  }
});

test("a missing path → candidates_not_found, and the message does not echo the path", async (t) => {
  const missing = join(await tempDir(t), "nope", "set.tar");
  const e = await rejectsWithCode(openPointSet(missing), "candidates_not_found");
  assert.ok(!e.message.includes("nope"));
});

test("files that are no candidate set → archive_invalid with what is accepted", async (t) => {
  const cases: [string, Uint8Array | string, RegExp][] = [
    ["one.png", RED, /single image/],
    ["notes.txt", "hello", /not recognised/],
    ["zero-bytes", "", /not recognised/],
    ["set.tar.bz2", Buffer.concat([Buffer.from("BZh91AY&SY"), Buffer.alloc(100)]), /bzip2 archives are not supported/],
  ];
  for (const [name, bytes, message] of cases) {
    const e = await rejectsWithCode(openPointSet(await file(t, name, bytes)), "archive_invalid");
    assert.match(e.message, message, name);
    assert.match(e.message, /\.tar, \.tar\.gz, \.zip or \.npy/);
  }
});

test("empty archives → candidates_empty", async (t) => {
  await rejectsWithCode(openPointSet(await file(t, "e.tar", writeTar([]))), "candidates_empty");
  await rejectsWithCode(openPointSet(await file(t, "e.tar.gz", writeTarGz([])), {}, { tmpDir: await tempDir(t) }), "candidates_empty");
  await rejectsWithCode(openPointSet(await file(t, "e.zip", zipEnd(0, 0, 0))), "candidates_empty");
  await rejectsWithCode(openPointSet(await file(t, "dirs.zip", writeZip([{ name: "only/", method: 0 }]))), "candidates_empty");
});

test("after close, loads fail; close is idempotent", async (t) => {
  const set = await openPointSet(await file(t, "s.tar", writeTar([{ name: "a.png", data: RED }])));
  assert.equal((await set.load(0)).width, 2);
  await set.close();
  await set.close();
  await assert.rejects(set.load(0), /closed/);
});

test("limits: defaults, overrides, and invalid overrides → invalid_config", async (t) => {
  assert.equal(resolveIngestLimits().maxPoints, DEFAULT_INGEST_LIMITS.maxPoints);
  assert.equal(resolveIngestLimits({ maxPixels: 10 }).maxPixels, 10);
  assert.equal(resolveIngestLimits({ maxPixels: 10 }).maxFileBytes, DEFAULT_INGEST_LIMITS.maxFileBytes);
  for (const bad of [{ maxPixels: 0 }, { maxPoints: 1.5 }, { maxExpansionRatio: 0.5 }, { nope: 1 } as object]) {
    assert.throws(() => resolveIngestLimits(bad), (e: unknown) => (e as { code?: string }).code === "invalid_config");
  }
  const path = await file(t, "s.tar", writeTar([{ name: "a.png", data: RED }]));
  await rejectsWithCode(openPointSet(path, { maxPoints: -1 }), "invalid_config");
});
