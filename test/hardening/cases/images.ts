/**
 * Hostile and unusual images inside an otherwise valid candidate tar, measured by the real engine.
 * Broken or oversized images fail the audit naming the point; the unusual-but-legitimate ones are
 * accepted with the conversion image-decode.ts documents (first frame, high byte, CMYK profile,
 * content over extension), and the checks prove that conversion by comparing against an audit of
 * the already-converted image under the same point id.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { encodePng, pngBomb } from "../../helpers/data-png.ts";
import { seededRandom } from "../../helpers/tiny-encoders.ts";
import { noisePng, tarOf, tarWithValid } from "./inputs.ts";
import type { CaseContext, FinishedAudit, HostileCase } from "./types.ts";

/** A member name that is a spreadsheet formula with a newline and a terminal escape in it. */
const HOSTILE_NAME = '=HYPERLINK("x")\n\u001b[2J.png';

const withCandidates = (build: () => Buffer | Promise<Buffer>) => async (ctx: CaseContext) => ctx.audit({ candidates: await build() });

/** A JPEG whose SOF0 header declares width × height (the scan data stays 8×8). */
async function jpegDeclaring(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 200, b: 30 } } }).jpeg().toBuffer());
  for (let i = 0; i + 9 < jpeg.length; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
  }
  throw new Error("no SOF0 marker");
}

/** 12×10, left half red / right half green (exact in a GIF palette). */
function patternA(): number[] {
  return Array.from({ length: 12 * 10 }, (_, p) => (p % 12 < 6 ? [255, 0, 0] : [0, 255, 0])).flat();
}
/** 12×10, top half blue / bottom half yellow. */
function patternB(): number[] {
  return Array.from({ length: 12 * 10 }, (_, p) => (Math.floor(p / 12) < 5 ? [0, 0, 255] : [255, 255, 0])).flat();
}

async function animatedGif(): Promise<Buffer> {
  const frame = (rgb: number[]) => sharp(Buffer.from(rgb), { raw: { width: 12, height: 10, channels: 3 } }).png().toBuffer();
  return sharp([await frame(patternA()), await frame(patternB())], { join: { animated: true } }).gif().toBuffer();
}

/** 16-bit RGB samples and the 8-bit image of their high bytes. */
function sixteenBit(): { png16: Buffer; png8: Buffer } {
  const rand = seededRandom(77);
  const samples = Array.from({ length: 14 * 12 * 3 }, () => Math.floor(rand() * 65536));
  return {
    png16: encodePng({ width: 14, height: 12, colorType: 2, bitDepth: 16, samples }),
    png8: encodePng({ width: 14, height: 12, colorType: 2, samples: samples.map((v) => v >> 8) }),
  };
}

/** The audit of `tar` must give exactly the rows of `finished` (same ids, same measurements). */
async function sameMeasurementsAs(ctx: CaseContext, finished: FinishedAudit, tar: Buffer): Promise<void> {
  const res = await ctx.audit({ candidates: tar });
  assert.equal(res.status, 202, res.text);
  const twin = await ctx.waitFinished(res.json.id);
  assert.equal(twin.state, "succeeded", JSON.stringify(twin.error));
  const strip = (rows: any[]) => rows.map((r) => [r.id, r.alignTarget, r.alignReference, r.score]);
  assert.deepEqual(strip(await ctx.results(finished.id)), strip(await ctx.results(twin.id)), "the converted image measures like its documented conversion");
}

/** The report's candidate source; every skipped entry is also named (issue 12), checked here once. */
async function source(ctx: CaseContext, id: string): Promise<{ kind: string; count: number; skipped: number }> {
  const { skippedFiles, ...counts } = (await ctx.report(id)).audit.candidatesSource;
  assert.equal(skippedFiles?.length ?? 0, counts.skipped, "every skipped entry is named in the report");
  return counts;
}

export const IMAGE_CASES: HostileCase[] = [
  {
    id: "I01",
    category: "image",
    input: "PNG with valid signature and IHDR but garbage IDAT",
    layer: "ingest: decode (sharp), at load",
    expect: { kind: "failed", code: "image_invalid" },
    detail: /"broken\.png"/,
    checks: "detail names the point id",
    run: withCandidates(() => {
      const png = Buffer.from(noisePng(8, 8, 1));
      const idat = png.indexOf("IDAT");
      png.fill(0x5a, idat + 4, idat + 24);
      return tarWithValid({ name: "broken.png", data: png });
    }),
  },
  {
    id: "I02",
    category: "image",
    input: "JPEG truncated to half its bytes",
    layer: "ingest: decode (failOn error)",
    expect: { kind: "failed", code: "image_invalid" },
    run: withCandidates(async () => {
      const jpeg = await sharp(noisePng(32, 32, 2)).jpeg().toBuffer();
      return tarWithValid({ name: "cut.jpg", data: jpeg.subarray(0, jpeg.length >> 1) });
    }),
  },
  {
    id: "I03",
    category: "image",
    input: "zero-byte x.png as the only member",
    layer: "ingest: index (empty file skipped) → empty set",
    expect: { kind: "failed", code: "candidates_empty" },
    run: withCandidates(() => tarOf([{ name: "x.png", data: new Uint8Array(0) }])),
  },
  {
    id: "I04",
    category: "image",
    input: "zero-byte x.png next to a valid image",
    layer: "ingest: index (skipped, counted)",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => assert.deepEqual(await source(ctx, audit.id), { kind: "tar", count: 1, skipped: 1 }),
    },
    checks: "report candidatesSource {count 1, skipped 1}",
    run: withCandidates(() => tarWithValid({ name: "x.png", data: new Uint8Array(0) })),
  },
  {
    id: "I05",
    category: "image",
    input: "PNG header declaring 50000×50000 (decompression bomb)",
    layer: "ingest: header check before decoding (maxPixels)",
    expect: { kind: "failed", code: "image_too_large" },
    detail: /"bomb\.png": 50000×50000 pixels .*maxPixels/,
    checks: "detail names the point, 50000×50000 and maxPixels",
    run: withCandidates(() => tarWithValid({ name: "bomb.png", data: pngBomb(50_000, 50_000) })),
  },
  {
    id: "I06",
    category: "image",
    input: "JPEG whose SOF header declares 65000×65000",
    layer: "ingest: header check before decoding (maxPixels)",
    expect: { kind: "failed", code: "image_too_large" },
    run: withCandidates(async () => tarWithValid({ name: "bomb.jpg", data: await jpegDeclaring(65_000, 65_000) })),
  },
  {
    id: "I07",
    category: "image",
    input: "animated GIF (2 frames)",
    layer: "ingest: decode — ACCEPTED, first frame only",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const firstFrame = await sharp(Buffer.from(patternA()), { raw: { width: 12, height: 10, channels: 3 } }).png().toBuffer();
        await sameMeasurementsAs(ctx, audit, tarWithValid({ name: "anim.gif", data: firstFrame }));
      },
    },
    checks: "measures exactly like a PNG of frame 1 under the same id",
    run: withCandidates(async () => tarWithValid({ name: "anim.gif", data: await animatedGif() })),
  },
  {
    id: "I08",
    category: "image",
    input: "16-bit RGB PNG",
    layer: "ingest: decode — ACCEPTED, high byte kept (v >> 8)",
    expect: {
      kind: "succeeded",
      check: (audit, ctx) => sameMeasurementsAs(ctx, audit, tarWithValid({ name: "deep.png", data: sixteenBit().png8 })),
    },
    checks: "measures exactly like the 8-bit PNG of the high bytes",
    run: withCandidates(() => tarWithValid({ name: "deep.png", data: sixteenBit().png16 })),
  },
  {
    id: "I09",
    category: "image",
    input: "CMYK JPEG",
    layer: "ingest: decode — ACCEPTED, converted to sRGB",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        assert.deepEqual(await source(ctx, audit.id), { kind: "tar", count: 2, skipped: 0 });
        for (const row of await ctx.results(audit.id)) assert.ok(Number.isFinite(row.score), `finite score for ${row.id}`);
      },
    },
    checks: "both points measured, finite scores",
    run: withCandidates(async () => {
      const cmyk = await sharp(noisePng(16, 16, 5)).toColourspace("cmyk").jpeg().toBuffer();
      assert.equal((await sharp(cmyk).metadata()).space, "cmyk");
      return tarWithValid({ name: "print.jpg", data: cmyk });
    }),
  },
  {
    id: "I10",
    category: "image",
    input: "PNG named photo.jpg, JPEG named scan.png",
    layer: "ingest: sniffing — ACCEPTED, content decides",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const ids = (await ctx.results(audit.id)).map((r) => r.id).sort();
        assert.deepEqual(ids, ["ok.png", "photo.jpg", "scan.png"]);
      },
    },
    checks: "both are points, ids keep the given names",
    run: withCandidates(async () =>
      tarWithValid({ name: "photo.jpg", data: noisePng(16, 16, 6) }, { name: "scan.png", data: await sharp(noisePng(16, 16, 7)).jpeg().toBuffer() }),
    ),
  },
  {
    id: "I11",
    category: "image",
    input: "text file named notes.png; SVG (with an external href) named logo.png",
    layer: "ingest: sniffing — skipped, counted, never decoded",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => assert.deepEqual(await source(ctx, audit.id), { kind: "tar", count: 1, skipped: 2 }),
    },
    checks: "report candidatesSource {count 1, skipped 2}",
    run: withCandidates(() =>
      tarWithValid(
        { name: "notes.png", data: Buffer.from("not an image, just text\n") },
        { name: "logo.png", data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>') },
      ),
    ),
  },
  {
    id: "I12",
    category: "image",
    input: "20000×1 PNG (extreme aspect ratio)",
    layer: "ingest + augmentation — ACCEPTED",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const rows = await ctx.results(audit.id);
        assert.equal(rows.length, 2);
        for (const row of rows) assert.ok(Number.isFinite(row.score), `finite score for ${row.id}`);
      },
    },
    checks: "measured, finite scores",
    run: withCandidates(() => tarWithValid({ name: "strip.png", data: noisePng(20_000, 1, 8) })),
  },
  {
    id: "I15",
    category: "image",
    input: "image named =HYPERLINK(\"x\")\\n\\u001b[2J.png (formula, newline, terminal escape)",
    layer: "ingest + results — ACCEPTED, id kept verbatim, CSV neutralised",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const ids = (await ctx.results(audit.id)).map((r) => r.id);
        assert.ok(ids.includes(HOSTILE_NAME), `the id is kept verbatim: ${JSON.stringify(ids)}`);
        const csv = await ctx.request(`/v1/audits/${audit.id}/results?format=csv`);
        assert.equal(csv.status, 200);
        assert.ok(csv.text.includes(`"'=HYPERLINK(""x"")`), `the id is neutralised with an apostrophe: ${csv.text}`);
        // (A minus sign starts the negative numbers; only text cells are formulas.)
        assert.doesNotMatch(csv.text, /(^|,|\r\n)"?([=+@]|-[^0-9])/, "no CSV cell starts a formula");
      },
    },
    checks: "results JSON has the exact id; no CSV cell starts with = + - @",
    run: withCandidates(() => tarWithValid({ name: "safe.png", data: noisePng(8, 8, 11), pax: { path: HOSTILE_NAME } })),
  },
  {
    id: "I13",
    category: "image",
    input: "single PNG uploaded as the candidate set (not an archive)",
    layer: "ingest: open (kind by content)",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => noisePng(16, 16, 9)),
  },
  {
    id: "I14",
    category: "image",
    input: "PNG whose IDAT checksum is wrong",
    layer: "ingest: decode",
    expect: { kind: "failed", code: "image_invalid" },
    run: withCandidates(() => {
      const png = Buffer.from(noisePng(8, 8, 10));
      const idat = png.indexOf("IDAT");
      png[idat + 4 + png.readUInt32BE(idat - 4)] ^= 0x01; // first byte of the IDAT CRC
      return tarWithValid({ name: "crc.png", data: png });
    }),
  },
];
