/** `sslmem stamp` through the real binary: the metadata it writes, and that an audit then needs no flags. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspectOnnx } from "../../src/engine/onnx/inspect.ts";
import { tempDir, writeRandomNpy } from "../helpers/audit-inputs.ts";
import { convEncoder } from "../helpers/tiny-encoders.ts";
import { runCli } from "./run-cli.ts";

describe("sslmem stamp", () => {
  it("writes sslmem.* metadata into a copy; the stamped pair audits without normalization flags", async () => {
    const dir = tempDir();
    const raw = join(dir, "f.onnx");
    const rawRef = join(dir, "g.onnx");
    writeFileSync(raw, convEncoder({ normalize: false, seed: 1, height: 16, width: 16 }).bytes);
    writeFileSync(rawRef, convEncoder({ normalize: false, seed: 2, height: 16, width: 16 }).bytes);
    const candidates = writeRandomNpy(dir, "c.npy", 6, 16, 16, 3);
    const args = (t: string, r: string) => ["audit", "--target", t, "--reference", r, "--candidates", candidates, "--views", "2", "--quiet", "--providers", "cpu"];

    const refused = await runCli(args(raw, rawRef));
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /preprocessing_required/);

    const stamped = await runCli(["stamp", raw, "--normalize", "imagenet", "--layout", "NCHW"]);
    assert.equal(stamped.status, 0, stamped.stderr);
    const out = join(dir, "f.stamped.onnx");
    assert.match(stamped.stderr, /sslmem: stamped .*f\.stamped\.onnx \(sslmem\.normalize=imagenet sslmem\.layout=NCHW\)/);
    assert.deepEqual(inspectOnnx(new Uint8Array(readFileSync(out))).metadata, { "sslmem.normalize": "imagenet", "sslmem.layout": "NCHW" });
    assert.deepEqual(inspectOnnx(new Uint8Array(readFileSync(raw))).metadata, {}, "the original is untouched");

    // In place, explicit values; re-stamping replaces the old sslmem.* entries.
    const inPlace = await runCli(["stamp", rawRef, "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "-o", rawRef]);
    assert.equal(inPlace.status, 0, inPlace.stderr);
    const again = await runCli(["stamp", rawRef, "--normalize", "imagenet", "-o", rawRef]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(inspectOnnx(new Uint8Array(readFileSync(rawRef))).metadata, { "sslmem.normalize": "imagenet" });

    const audit = await runCli([...args(out, rawRef), "--format", "json"]);
    assert.equal(audit.status, 0, audit.stderr);
    const report = JSON.parse(audit.stdout) as { audit: { preprocessing: { mean: number[]; std: number[] } } };
    assert.deepEqual(report.audit.preprocessing.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(report.audit.preprocessing.std, [0.229, 0.224, 0.225]);
  });

  it("refuses what it cannot stamp, with a message naming the flag", async () => {
    const dir = tempDir();
    const model = join(dir, "m.onnx");
    writeFileSync(model, convEncoder({ normalize: false }).bytes);
    const notOnnx = join(dir, "x.onnx");
    writeFileSync(notOnnx, "not a model");
    const cases: Array<[string[], RegExp]> = [
      [["stamp", model], /nothing to stamp: pass --normalize PRESET or --mean\/--std/],
      [["stamp", model, "--mean", "123.7,116.3,103.5", "--std", "58.4,57.1,57.4"], /--mean: mean 123\.7,116\.3,103\.5 looks like the 0–255 scale/],
      [["stamp", model, "--normalise", "half"], /unknown option '--normalise' — did you mean --normalize\?/],
      [["stamp", model, "--normalize", "half", "--std", "0.5,0.5,0.5"], /--normalize: normalize names a preset/],
      [["stamp", notOnnx, "--normalize", "half"], /error \[model_invalid\]/],
      [["stamp", join(dir, "missing.onnx"), "--normalize", "half"], /error \[model_not_found\]/],
    ];
    for (const [a, message] of cases) {
      const r = await runCli(a);
      assert.equal(r.status, 1, `${a.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
