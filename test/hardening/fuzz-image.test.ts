/**
 * Property-based fuzzing of the image loader (issue 4): small valid PNG (8- and 16-bit, palette,
 * grey+alpha, interlaced-free), JPEG, GIF, WebP and TIFF files, mutated byte by byte and in their
 * size fields, go through decodeImage. The result is either RGB pixels within the limits or an
 * SslmemError `image_invalid` / `image_too_large` — never another exception, never a decode
 * larger than maxPixels.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import fc from "fast-check";
import sharp from "sharp";
import { crc32 } from "../../src/data/crc32.ts";
import { decodeImage } from "../../src/data/image-decode.ts";
import { encodePng, encodeRgb } from "../helpers/data-png.ts";
import { seededRandom } from "../helpers/tiny-encoders.ts";
import { assertExpectedError, check, mutate, mutationArb } from "./support/fuzz.ts";

const LIMITS = { maxPixels: 48 * 48, maxFileBytes: 64 * 1024 };

const noise = (n: number, seed: number) => {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, () => Math.floor(rand() * 256));
};

let seeds: { name: string; bytes: Buffer }[] = [];

before(async () => {
  const rgb = noise(7 * 5 * 3, 1);
  const frame = (seed: number) => sharp(Buffer.from(noise(7 * 5 * 3, seed)), { raw: { width: 7, height: 5, channels: 3 } }).png().toBuffer();
  seeds = [
    { name: "png-rgb", bytes: encodePng({ width: 7, height: 5, colorType: 2, samples: rgb }) },
    { name: "png-16", bytes: encodePng({ width: 4, height: 3, colorType: 2, bitDepth: 16, samples: noise(36, 2).map((v) => v * 257) }) },
    { name: "png-grey-alpha", bytes: encodePng({ width: 5, height: 4, colorType: 4, samples: noise(40, 3) }) },
    {
      name: "png-palette",
      bytes: encodePng({ width: 4, height: 2, colorType: 3, samples: [0, 1, 2, 1, 0, 2, 2, 1], chunks: [{ type: "PLTE", data: Buffer.from(noise(9, 4)) }] }),
    },
    { name: "jpeg", bytes: await encodeRgb(7, 5, rgb, "jpeg") },
    { name: "jpeg-progressive", bytes: await sharp(Buffer.from(rgb), { raw: { width: 7, height: 5, channels: 3 } }).jpeg({ progressive: true }).toBuffer() },
    { name: "gif-animated", bytes: await sharp([await frame(5), await frame(6)], { join: { animated: true } }).gif().toBuffer() },
    { name: "webp-lossless", bytes: await encodeRgb(7, 5, rgb, "webp") },
    { name: "webp-lossy", bytes: await sharp(Buffer.from(rgb), { raw: { width: 7, height: 5, channels: 3 } }).webp({ quality: 50 }).toBuffer() },
    { name: "tiff", bytes: await encodeRgb(7, 5, rgb, "tiff") },
  ];
  for (const s of seeds) {
    const img = await decodeImage(s.bytes, s.name, LIMITS);
    assert.ok(img.width > 0, `${s.name} is a valid seed`);
  }
});

test("mutated PNG/JPEG/GIF/WebP/TIFF bytes: pixels within limits, or image_invalid / image_too_large", async () => {
  let decoded = 0;
  let refused = 0;
  await check(
    "image-loader-mutations",
    fc.asyncProperty(fc.nat(seeds.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 5 }), async (which, mutations) => {
      // Aim at the header: sizes, colour types and chunk lengths live in the first bytes.
      const bytes = mutate(seeds[which].bytes, mutations, 64);
      try {
        const img = await decodeImage(bytes, "fuzzed", LIMITS);
        assert.ok(Number.isInteger(img.width) && Number.isInteger(img.height) && img.width >= 1 && img.height >= 1);
        assert.ok(img.width * img.height <= LIMITS.maxPixels, `decoded ${img.width}×${img.height} past maxPixels`);
        assert.equal(img.data.length, img.width * img.height * 3);
        decoded++;
      } catch (e) {
        assertExpectedError(e, ["image_invalid", "image_too_large"]);
        refused++;
      }
    }),
    2000,
  );
  assert.ok(decoded > 100 && refused > 100, `both outcomes are exercised (decoded ${decoded}, refused ${refused})`);
});

test("declared sizes in PNG headers: over maxPixels is refused before decoding, whatever the data", async () => {
  await check(
    "image-loader-declared-size",
    fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), async (width, height, fixCrc) => {
      const png = Buffer.from(seeds[0].bytes);
      png.writeUInt32BE(width, 16);
      png.writeUInt32BE(height, 20);
      // Half the time the IHDR CRC is left stale: then the header is corrupt, and image_invalid is right too.
      if (fixCrc) png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
      try {
        const img = await decodeImage(png, "declared", LIMITS);
        assert.ok(img.width * img.height <= LIMITS.maxPixels);
      } catch (e) {
        assertExpectedError(e, ["image_invalid", "image_too_large"]);
        if (fixCrc && width * height > LIMITS.maxPixels) assert.equal((e as { code: string }).code, "image_too_large", `${width}×${height}: ${String(e)}`);
      }
    }),
    300,
  );
});
