/**
 * The direct PNG decoder (src/data/png-decode.ts) against sharp, the decoder of every other file:
 * on every plain file it takes, the same pixels; on every other file, no answer, so that
 * decodeImage gives sharp's pixels or sharp's refusal.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { deflateSync } from "node:zlib";
import { isSslmemError } from "../../src/core/errors.ts";
import { decodeImage, decodeWithSharp } from "../../src/data/image-decode.ts";
import { decodePlainPng } from "../../src/data/png-decode.ts";
import { encodePng, pngChunk, pngChunks, PNG_SIGNATURE, type PngSpec } from "../helpers/data-png.ts";

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

function samples(count: number, max: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % (max + 1);
  });
}

/** A palette of `n` colours, and a tRNS chunk for some of them. */
function paletteChunks(n: number): PngSpec["chunks"] {
  return [
    { type: "PLTE", data: Uint8Array.from(samples(n * 3, 255, 99)) },
    { type: "tRNS", data: Uint8Array.from(samples(Math.min(n, 5), 255, 7)) },
  ];
}

function spec(colorType: PngSpec["colorType"], bitDepth: 8 | 16, width: number, height: number, extra: Partial<PngSpec> = {}): PngSpec {
  const max = colorType === 3 ? 11 : bitDepth === 16 ? 65535 : 255;
  return {
    width,
    height,
    colorType,
    bitDepth,
    samples: samples(width * height * CHANNELS[colorType], max, width * 31 + height * 7 + colorType),
    ...(colorType === 3 ? { chunks: paletteChunks(12) } : {}),
    ...extra,
  };
}

async function assertSameAsSharp(png: Uint8Array, what: string): Promise<void> {
  const direct = decodePlainPng(png);
  assert.ok(direct !== undefined, `${what}: the direct decoder should take it`);
  const viaSharp = await decodeWithSharp(png, "p", "png");
  assert.equal(direct.width, viaSharp.width, what);
  assert.equal(direct.height, viaSharp.height, what);
  assert.ok(Buffer.from(direct.data).equals(Buffer.from(viaSharp.data)), `${what}: pixels differ from sharp's`);
}

/** The direct decoder declines, and decodeImage's outcome is sharp's (assertSameOutcome). */
async function assertSharpDecides(png: Uint8Array, what: string): Promise<void> {
  assert.equal(decodePlainPng(png), undefined, `${what}: the direct decoder should decline`);
  await assertSameOutcome(png, what);
}

/** decodeImage's outcome equals sharp's: the same pixels, or a refusal with the same code. */
async function assertSameOutcome(png: Uint8Array, what: string): Promise<void> {
  const settle = (p: Promise<{ data: Uint8Array }>) =>
    p.then(
      (img) => ({ ok: true as const, data: Buffer.from(img.data).toString("base64") }),
      (e: unknown) => ({ ok: false as const, code: isSslmemError(e) ? e.code : String(e) }),
    );
  const [got, want] = await Promise.all([settle(decodeImage(png, "p")), settle(decodeWithSharp(png, "p", "png"))]);
  assert.deepEqual(got, want, what);
}

/** `png` with its chunks rewritten by `edit` (CRCs recomputed). */
function withChunks(png: Buffer, edit: (chunks: { type: string; data: Buffer }[]) => { type: string; data: Uint8Array }[]): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ...edit(pngChunks(png)).map((c) => pngChunk(c.type, c.data))]);
}

describe("direct PNG decoding", () => {
  it("gives sharp's pixels for every colour type, depth and row filter it takes", async () => {
    for (const colorType of [0, 2, 3, 4, 6] as const) {
      for (const bitDepth of colorType === 3 ? ([8] as const) : ([8, 16] as const)) {
        for (const filters of [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0]]) {
          for (const [w, h] of [
            [1, 1],
            [5, 3],
            [17, 9],
          ]) {
            const png = encodePng(spec(colorType, bitDepth, w, h, { filters }));
            await assertSameAsSharp(png, `type ${colorType}, ${bitDepth}-bit, filters ${filters.join("")}, ${w}×${h}`);
          }
        }
      }
    }
  });

  it("gives sharp's pixels for files sharp itself writes (adaptive filters, all channel counts)", async () => {
    for (const channels of [1, 2, 3, 4] as const) {
      for (const size of [1, 7, 32, 100]) {
        const raw = Buffer.from(samples(size * size * channels, 255, size + channels));
        const png = await sharp(raw, { raw: { width: size, height: size, channels } }).png({ compressionLevel: 6 }).toBuffer();
        await assertSameAsSharp(png, `${channels} channel(s), ${size}×${size}`);
      }
    }
    // A smooth gradient, where the adaptive filters pick sub, up, average and Paeth.
    const w = 64;
    const gradient = Buffer.alloc(w * w * 3);
    for (let i = 0; i < w * w; i++) gradient.set([(i % w) * 4, Math.floor(i / w) * 4, (i * 3) & 255], i * 3);
    await assertSameAsSharp(await sharp(gradient, { raw: { width: w, height: w, channels: 3 } }).png().toBuffer(), "gradient");
  });

  it("takes image data over several IDAT chunks, and the ancillary chunks that do not change pixels", async () => {
    await assertSameAsSharp(encodePng(spec(2, 8, 9, 7, { idatChunks: 4 })), "four IDAT chunks");
    const text = { type: "tEXt", data: Buffer.from("Comment\0made by a test") };
    const phys = { type: "pHYs", data: Buffer.from([0, 0, 11, 19, 0, 0, 11, 19, 1]) };
    const time = { type: "tIME", data: Buffer.from([7, 234, 12, 3, 18, 0, 0]) };
    const bkgd = { type: "bKGD", data: Buffer.from([0, 10, 0, 20, 0, 30]) };
    await assertSameAsSharp(encodePng(spec(2, 8, 6, 4, { chunks: [phys, bkgd, time], chunksAfter: [text] })), "text, time, pHYs, bKGD");
    const trns = { type: "tRNS", data: Buffer.from([0, 1, 0, 2, 0, 3]) };
    await assertSameAsSharp(encodePng(spec(2, 8, 6, 4, { chunks: [trns] })), "RGB with a transparent colour");
  });

  it("declines what sharp should decide: colour management, interlacing, sub-byte depths, unknown chunks", async () => {
    const rgb = (extra: Partial<PngSpec> = {}) => encodePng(spec(2, 8, 8, 8, extra));
    for (const type of ["gAMA", "sRGB", "cHRM", "sBIT", "iCCP", "prVt"]) {
      const data = type === "gAMA" ? Buffer.from([0, 0, 0xb1, 0x8f]) : type === "sRGB" ? Buffer.from([0]) : type === "sBIT" ? Buffer.from([8, 8, 8]) : Buffer.alloc(32, 1);
      if (type === "iCCP") continue; // a well-formed profile is tested in image-decode.test.ts through decodeImage
      await assertSharpDecides(rgb({ chunks: [{ type, data }] }), `${type} chunk`);
    }
    const noise = Buffer.from(samples(40 * 40 * 3, 255, 5));
    await assertSharpDecides(await sharp(noise, { raw: { width: 40, height: 40, channels: 3 } }).png({ progressive: true }).toBuffer(), "interlaced");
    await assertSharpDecides(await sharp(noise, { raw: { width: 40, height: 40, channels: 3 } }).png({ palette: true, colours: 4 }).toBuffer(), "2-bit palette");
  });

  it("declines damaged files, and decodeImage then refuses or decodes them exactly as sharp does", async () => {
    const png = encodePng(spec(2, 8, 8, 8, { chunksAfter: [{ type: "tEXt", data: Buffer.from("a\0b") }] }));
    const badCrc = Buffer.from(png);
    const text = pngChunks(png).findIndex((c) => c.type === "tEXt");
    // The tEXt chunk's CRC: its offset is the sum of the chunk sizes before it.
    const offset = PNG_SIGNATURE.length + pngChunks(png).slice(0, text + 1).reduce((n, c) => n + 12 + c.data.length, 0) - 1;
    badCrc[offset] ^= 0xff;
    await assertSharpDecides(badCrc, "an ancillary chunk's CRC wrong");
    await assertSharpDecides(Buffer.concat([png, Buffer.from("trailing")]), "bytes after IEND");
    await assertSharpDecides(png.subarray(0, png.length - 20), "truncated");
    // zlib ignores bytes after the end of its stream, and so does sharp's decoder.
    await assertSameOutcome(
      withChunks(encodePng(spec(0, 8, 4, 4)), (chunks) => chunks.map((c) => (c.type === "IDAT" ? { type: "IDAT", data: Buffer.concat([c.data, Buffer.from([1, 2, 3])]) } : c))),
      "data after the zlib stream",
    );
    // The image data of a 4×4 grey image re-encoded with a filter type 5 on its first row.
    const raw = Buffer.from([5, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    await assertSharpDecides(
      withChunks(encodePng(spec(0, 8, 4, 4)), (chunks) => chunks.map((c) => (c.type === "IDAT" ? { type: "IDAT", data: deflateSync(raw) } : c))),
      "filter type 5",
    );
    const palette = encodePng({ width: 2, height: 1, colorType: 3, samples: [0, 9], chunks: [{ type: "PLTE", data: Buffer.from([1, 2, 3, 4, 5, 6]) }] });
    await assertSharpDecides(palette, "a palette index past the palette");
    await assertSharpDecides(encodePng({ width: 2, height: 1, colorType: 3, samples: [0, 1] }), "a palette image without PLTE");
  });
});
