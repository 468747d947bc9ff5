/**
 * Bad files never lose a run: an image that fails to decode mid-run (a truncated file that sorts
 * last) is left out and named in the report and the summary, or ends the run with --on-invalid
 * fail; an interrupted run keeps what it measured and --resume finishes it with the same scores.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { ReportV1Schema } from "../../src/core/report.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { seededRandom } from "../helpers/tiny-encoders.ts";
import { runCli } from "./run-cli.ts";

async function noisePng(w: number, h: number, seed: number): Promise<Buffer> {
  const rand = seededRandom(seed);
  const data = Buffer.alloc(w * h * 3);
  for (let k = 0; k < data.length; k++) data[k] = Math.floor(rand() * 256);
  return sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

describe("bad files and interrupted runs", () => {
  let dir: string;
  let candidates: string;
  let enc: { target: string; reference: string };
  before(async () => {
    dir = tempDir();
    enc = writeTinyEncoderPair(dir);
    candidates = join(dir, "images");
    mkdirSync(candidates);
    for (let i = 0; i < 10; i++) writeFileSync(join(candidates, `img-${i}.png`), await noisePng(20, 20, i));
    const whole = await noisePng(20, 20, 99);
    writeFileSync(join(candidates, "zz-truncated.png"), whole.subarray(0, Math.floor(whole.length / 2)));
    writeFileSync(join(candidates, "notes.txt"), "not an image");
  });

  it("a file that fails to decode mid-run is left out and named; --on-invalid fail ends the run", async () => {
    const out = join(dir, "report.json");
    const args = ["audit", "--target", enc.target, "--reference", enc.reference, "--candidates", candidates, "--views", "2", "--providers", "cpu", "--threads", "1", "--batch-size", "4"];
    const r = await runCli([...args, "-o", out, "-o", join(dir, "summary.txt")]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: left out candidate "zz-truncated\.png": point "zz-truncated\.png": the PNG data is corrupt or truncated \(--on-invalid skip; it is named in the report\)/);
    const report = ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8")));
    assert.equal(report.points.length, 10, "every good image is scored");
    assert.equal(report.audit.candidatesSource.count, 10);
    assert.equal(report.audit.candidatesSource.skipped, 2);
    assert.deepEqual(report.audit.candidatesSource.skippedFiles?.map((f) => f.id).sort(), ["notes.txt", "zz-truncated.png"]);
    const summary = readFileSync(join(dir, "summary.txt"), "utf8");
    const flat = summary.replace(/\n +/g, " ");
    assert.ok(flat.includes('skipped     notes.txt (not an image (content is not PNG, JPEG, WebP, GIF or TIFF)); zz-truncated.png (point "zz-truncated.png": the PNG data is corrupt or truncated)'), flat);
    assert.equal(existsSync(`${out}.checkpoint`), false, "a finished audit removes its checkpoint");

    const fail = await runCli([...args, "--on-invalid", "fail", "--quiet", "--checkpoint", join(dir, "fail.checkpoint")]);
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stderr, /^error \[image_invalid\]: --candidates '.*': point "zz-truncated\.png": the PNG data is corrupt or truncated$/m);
    assert.match(fail.stderr, /^sslmem: \d+ of 11 points measured are kept in .*fail\.checkpoint; rerun the same command with --resume to continue$/m);
  });

  it("Ctrl-C keeps the measured points; --resume measures the rest and gives the same report points", async () => {
    const many = writeRandomNpy(dir, "many.npy", 400, 16, 16, 7);
    const base = ["audit", "--target", enc.target, "--reference", enc.reference, "--candidates", many, "--views", "4", "--batch-size", "2", "--providers", "cpu", "--threads", "1", "--seed", "5"];
    const out = join(dir, "resumed.json");
    let sent = false;
    const interrupted = await runCli([...base, "-o", out], {
      onStderr: (text, child) => {
        if (!sent && /scoring: [1-9]\d*\/400/.test(text)) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    assert.equal(interrupted.status, 130, interrupted.stderr);
    const kept = /sslmem: (\d+) of 400 points measured are kept in (.*resumed\.json\.checkpoint); rerun the same command with --resume to continue/.exec(interrupted.stderr);
    assert.ok(kept, interrupted.stderr);
    assert.ok(Number(kept[1]) > 0 && Number(kept[1]) < 400, `kept ${kept[1]}`);
    assert.equal(existsSync(kept[2]), true);

    const resumed = await runCli([...base, "-o", out, "--resume"]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`sslmem: resuming from .*resumed\\.json\\.checkpoint: ${kept[1]} points already measured`));
    assert.equal(existsSync(kept[2]), false, "the checkpoint is removed once the report is written");
    const full = join(dir, "full.json");
    assert.equal((await runCli([...base, "-o", full, "--quiet"])).status, 0);
    const a = ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8")));
    const b = ReportV1Schema.parse(JSON.parse(readFileSync(full, "utf8")));
    assert.deepEqual(a.points, b.points, "an interrupted and resumed audit equals an uninterrupted one");

    // A checkpoint of another audit is refused.
    writeFileSync(join(dir, "other.checkpoint"), JSON.stringify({ format: "sslmem.checkpoint/v1", key: "x" }) + "\n");
    const other = await runCli([...base, "--resume", "--checkpoint", join(dir, "other.checkpoint"), "--quiet"]);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /--resume: '.*other\.checkpoint' belongs to a different audit/);
  });
});
