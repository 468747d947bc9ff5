/**
 * TF.js models given as a .tar or .zip (src/engine/tfjs/model-files.ts): the fixture target as a
 * LayersModel in a directory, a tar (model.json at the root) and a zip (in one top folder) loads to
 * the same digest and the same embeddings. Hostile archives are refused with stable codes before any
 * weight is read: member names that leave the archive, links, a shard outside the model's folder,
 * shards larger than declared, absurd shapes, members that lie about their size, no or two model.json.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isSslmemError } from "../../src/core/errors.ts";
import { isTfjsModel } from "../../src/engine/tfjs/model-files.ts";
import { TfjsEncoder } from "../../src/engine/tfjs/tfjs-encoder.ts";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeTar, type TarEntry } from "../helpers/data-tar.ts";
import { writeZip } from "../helpers/data-zip.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const work = tempDir();
const modelDir = join(work, "target-tfjs");
await writeLayersModel(join(fixtures, "encoders/target.onnx"), modelDir);
const modelJson = readFileSync(join(modelDir, "model.json"), "utf8");
const weights = readFileSync(join(modelDir, "weights.bin"));

function file(name: string, bytes: Uint8Array): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

const mutated = (mutate: (m: any) => void) => {
  const m = JSON.parse(modelJson);
  mutate(m);
  return Buffer.from(JSON.stringify(m));
};

async function embedAll(encoder: TfjsEncoder): Promise<Float32Array> {
  const views = new Float32Array(2 * 32 * 32 * 3).map((_, i) => Math.sin(i) * 0.5);
  return (await encoder.embed(views, 2)).data;
}

test("a TF.js model as a tar or zip loads to the directory's digest and embeddings", async () => {
  const fromDir = await TfjsEncoder.fromPath(modelDir);
  const tar = file("model.tar", writeTar([{ name: "model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: weights }]));
  const zip = file("model.zip", writeZip([{ name: "exported/", data: new Uint8Array(0) }, { name: "exported/model.json", data: Buffer.from(modelJson) }, { name: "exported/weights.bin", data: weights }, { name: "README.txt", data: Buffer.from("hi") }]));
  const expected = await embedAll(fromDir);
  try {
    for (const path of [tar, zip]) {
      assert.equal(await isTfjsModel(path), true);
      const encoder = await TfjsEncoder.fromPath(path);
      try {
        assert.equal(encoder.digest, fromDir.digest, "the digest names the model, not its container");
        assert.deepEqual(await embedAll(encoder), expected);
      } finally {
        encoder.release();
      }
    }
  } finally {
    fromDir.release();
  }
  assert.equal(await isTfjsModel(join(fixtures, "encoders/target.onnx")), false, "an ONNX file is not a TF.js model");
});

test("hostile TF.js model archives are refused with stable codes", async () => {
  const refuse = async (name: string, bytes: Uint8Array, code: string, pattern: RegExp) => {
    const path = file(name, bytes);
    await assert.rejects(TfjsEncoder.fromPath(path), (e: unknown) => isSslmemError(e) && e.code === code && pattern.test(e.message), name);
  };
  const good: TarEntry[] = [{ name: "model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: weights }];
  await refuse("traversal.tar", writeTar([...good, { name: "../weights.bin", data: weights }]), "archive_unsafe", /"\.\.\/weights\.bin".*leaves the archive root/);
  await refuse("absolute.zip", writeZip([{ name: "/etc/model.json", data: Buffer.from(modelJson) }]), "archive_unsafe", /absolute path/);
  await refuse("symlink.tar", writeTar([...good, { name: "escape.bin", type: "2", linkName: "/etc/passwd" }]), "archive_unsafe", /symbolic link/);
  await refuse("symlink.zip", writeZip([{ name: "model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: Buffer.from("/etc/passwd"), symlink: true }]), "archive_unsafe", /link/);
  // model.json in a folder, its shard beside the folder: not part of the model.
  await refuse("outside.zip", writeZip([{ name: "m/model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: weights }]), "model_invalid", /weight shard "weights\.bin" is missing/);
  await refuse("dotdot-shard.tar", writeTar([{ name: "m/model.json", data: mutated((m) => (m.weightsManifest[0].paths = ["../weights.bin"])) }, { name: "weights.bin", data: weights }]), "model_invalid", /points outside the model/);
  await refuse("long-shard.tar", writeTar([good[0], { name: "weights.bin", data: Buffer.concat([weights, Buffer.alloc(4096)]) }]), "model_invalid", /hold more than \d+ bytes, but the manifest declares/);
  await refuse("absurd.zip", writeZip([{ name: "model.json", data: mutated((m) => (m.weightsManifest[0].weights[0].shape = [65536, 65536, 64])) }, { name: "weights.bin", data: weights }]), "model_invalid", /absurd shape/);
  await refuse("lying-size.zip", writeZip([{ name: "model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: weights, declaredSize: weights.length - 4096 }]), "model_invalid", /hold \d+ bytes, but the manifest declares/);
  await refuse("lying-crc.zip", writeZip([{ name: "model.json", data: Buffer.from(modelJson) }, { name: "weights.bin", data: weights, declaredCrc: 1234 }]), "archive_invalid", /CRC-32/);
  await refuse("none.zip", writeZip([{ name: "weights.bin", data: weights }]), "model_invalid", /holds no model\.json/);
  await refuse("two.tar", writeTar([...good, { name: "b/model.json", data: Buffer.from(modelJson) }]), "model_invalid", /2 model\.json files/);
  await refuse("duplicate.tar", writeTar([...good, { name: "weights.bin", data: weights }]), "archive_invalid", /more than once/);
  await refuse("many.tar", writeTar([...good, ...Array.from({ length: 4200 }, (_, i) => ({ name: `pad/${i}.bin`, data: new Uint8Array(1) }))]), "archive_too_large", /more than \d+ entries/);
});
