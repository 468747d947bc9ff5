/** `sslmem inspect` and `sslmem audit --dry-run` through the real binary. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { runCli } from "./run-cli.ts";

describe("sslmem inspect", () => {
  it("shows both contracts and where each value came from, names skipped and undecodable files, plans and times a probe", async () => {
    const dir = tempDir();
    const enc = writeTinyEncoderPair(dir);
    const images = join(dir, "images");
    mkdirSync(images);
    for (let i = 0; i < 5; i++) {
      await sharp(Buffer.alloc(20 * 20 * 3, i * 40), { raw: { width: 20, height: 20, channels: 3 } }).png().toFile(join(images, `ok-${i}.png`));
    }
    const good = await sharp(Buffer.alloc(20 * 20 * 3, 7), { raw: { width: 20, height: 20, channels: 3 } }).jpeg().toBuffer();
    writeFileSync(join(images, "cut.jpg"), good.subarray(0, 40));
    writeFileSync(join(images, "readme.md"), "# not an image");
    const controls = writeRandomNpy(dir, "controls.npy", 8, 20, 20, 4);
    const args = ["--target", enc.target, "--reference", enc.reference, "--candidates", images, "--controls", controls, "--views", "2", "--providers", "cpu", "--threads", "1", "--normalize", "imagenet"];

    const r = await runCli(["inspect", ...args]);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^sslmem inspect: the audit can run$/m);
    assert.match(out, /^target +sha256:[0-9a-f]{64}\n +input image \[N,3,16,16\]; output embedding \[N,12\]; pooling none; dim 12$/m);
    assert.match(out, /^input +16x16 NCHW \(size from model, layout from shape\)$/m);
    assert.match(out, /^normalize +range 0–1 \(override\), mean 0\.485,0\.456,0\.406 \(override\), std 0\.229,0\.224,0\.225 \(override\)$/m);
    assert.match(out, /^candidates +5 points \(directory\)$/m);
    assert.match(out, /^ +skipped "readme\.md": /m);
    assert.match(out, /^ +invalid "cut\.jpg": point "cut\.jpg": .* \(left out by --on-invalid skip\)$/m);
    assert.match(out, /^controls +8 points \(npy\)$/m);
    assert.match(out, /^plan +4 views per point, 104 encoder passes on cpu, batches of 8$/m);
    assert.match(out, /^eta +[\d.e-]+ s \(probe: 5 points in [\d.e-]+ s, warm-up included\)$/m);
    assert.match(out, /^health +invariance ratio target /m);

    const json = await runCli(["audit", "--dry-run", ...args, "--format", "json"]);
    assert.equal(json.status, 0, json.stderr);
    const x = JSON.parse(json.stdout) as { encoderPasses: number; candidates: { invalid: { id: string }[] }; preprocessing: { sources: { mean: string } } };
    assert.equal(x.encoderPasses, 104);
    assert.deepEqual(x.candidates.invalid.map((p) => p.id), ["cut.jpg"]);
    assert.equal(x.preprocessing.sources.mean, "override");

    // What would fail, fails here, in seconds, with the same message as the audit.
    const refused = await runCli(["inspect", ...args.filter((a) => a !== "--normalize" && a !== "imagenet"), "--pool", "cls"]);
    assert.equal(refused.status, 0, "a [N,D] output takes any pooling");
    const bad = await runCli(["inspect", ...args, "--input-size", "32x32"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--input-size 32x32 contradicts the model's fixed input/);
  });
});
