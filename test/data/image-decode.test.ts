import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../../src/data/image-decode.ts";
import { DEFAULT_INGEST_LIMITS } from "../../src/data/limits.ts";
import { rejectsWithCode } from "../helpers/data-assert.ts";
import { encodePng, encodeRgb, pngBomb, pngChunks } from "../helpers/data-png.ts";

const pixels = (img: { data: Uint8Array }) => [...img.data];

test("RGB PNG decodes to its exact samples", async () => {
  const png = encodePng({ width: 2, height: 2, colorType: 2, samples: [1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252] });
  const img = await decodeImage(png, "a.png");
  assert.equal(img.width, 2);
  assert.equal(img.height, 2);
  assert.deepEqual(pixels(img), [1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252]);
});

test("grey is replicated to three channels", async () => {
  const png = encodePng({ width: 3, height: 1, colorType: 0, samples: [0, 7, 255] });
  assert.deepEqual(pixels(await decodeImage(png, "g")), [0, 0, 0, 7, 7, 7, 255, 255, 255]);
});

test("grey+alpha: alpha dropped, grey replicated", async () => {
  const png = encodePng({ width: 2, height: 1, colorType: 4, samples: [40, 0, 200, 128] });
  assert.deepEqual(pixels(await decodeImage(png, "ga")), [40, 40, 40, 200, 200, 200]);
});

test("RGBA: alpha is dropped, not composited (a fully transparent pixel keeps its colour)", async () => {
  const png = encodePng({ width: 2, height: 1, colorType: 6, samples: [10, 20, 30, 0, 200, 100, 50, 128] });
  // Compositing onto black would give [0,0,0, 100,50,25]; PIL's convert("RGB") gives the stored colour.
  assert.deepEqual(pixels(await decodeImage(png, "rgba")), [10, 20, 30, 200, 100, 50]);
});

test("palette PNG with transparency maps to palette colours", async () => {
  const png = encodePng({
    width: 2,
    height: 1,
    colorType: 3,
    samples: [1, 0],
    chunks: [
      { type: "PLTE", data: Buffer.from([9, 8, 7, 60, 70, 80]) },
      { type: "tRNS", data: Buffer.from([0, 255]) },
    ],
  });
  assert.deepEqual(pixels(await decodeImage(png, "p")), [60, 70, 80, 9, 8, 7]);
});

test("16-bit RGB keeps the high byte (v >> 8), as PIL does", async () => {
  // 0x12ff → 18 (rounding v/257 would give 19); 0xff7f → 255 (v/257 → 254); 0x0101·9 → 9.
  const png = encodePng({ width: 1, height: 1, colorType: 2, bitDepth: 16, samples: [0x12ff, 0xff7f, 0x0909] });
  assert.deepEqual(pixels(await decodeImage(png, "16")), [0x12, 0xff, 0x09]);
});

test("16-bit grey keeps the high byte and is replicated", async () => {
  const png = encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 16, samples: [0x12ff, 0x8000] });
  assert.deepEqual(pixels(await decodeImage(png, "g16")), [18, 18, 18, 128, 128, 128]);
});

test("an embedded ICC profile is ignored: stored values are returned, as PIL returns them", async () => {
  // Lift a real Display-P3 iCCP chunk out of a sharp-written PNG, then store known samples under it.
  const tagged = await sharp(Buffer.from([1, 2, 3]), { raw: { width: 1, height: 1, channels: 3 } })
    .withIccProfile("p3")
    .png()
    .toBuffer();
  const iccp = pngChunks(tagged).find((c) => c.type === "iCCP");
  assert.ok(iccp, "sharp wrote an iCCP chunk");
  const png = encodePng({ width: 1, height: 1, colorType: 2, samples: [200, 30, 40], chunks: [iccp] });
  assert.deepEqual(pixels(await decodeImage(png, "icc")), [200, 30, 40]);
});

test("JPEG decodes close to its source colour", async () => {
  const rgb = Array.from({ length: 8 * 8 }, () => [180, 60, 20]).flat();
  const img = await decodeImage(await encodeRgb(8, 8, rgb, "jpeg"), "j");
  assert.equal(img.data.length, 8 * 8 * 3);
  for (let i = 0; i < img.data.length; i++) assert.ok(Math.abs(img.data[i] - rgb[i]) <= 4, `sample ${i}: ${img.data[i]} vs ${rgb[i]}`);
});

for (const format of ["jpeg", "tiff"] as const) {
  test(`CMYK ${format} converts to RGB`, async () => {
    const red = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .toColourspace("cmyk")
      .toFormat(format)
      .toBuffer();
    assert.equal((await sharp(red).metadata()).space, "cmyk", "the input really is CMYK");
    const img = await decodeImage(red, "cmyk");
    assert.equal(img.data.length, 4 * 4 * 3);
    const [r, g, b] = img.data;
    assert.ok(r > 200 && g < 40 && b < 40, `red stays red: ${r},${g},${b}`);
  });
}

async function twoFrames(format: "gif" | "webp" | "tiff"): Promise<Buffer> {
  const frame = (r: number, b: number) =>
    sharp({ create: { width: 4, height: 3, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
  const joined = sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } });
  if (format === "webp") return joined.webp({ lossless: true }).toBuffer();
  if (format === "tiff") return joined.tiff({ compression: "lzw" }).toBuffer();
  return joined.gif().toBuffer();
}

for (const format of ["gif", "webp", "tiff"] as const) {
  test(`${format}: only the first frame/page is decoded`, async () => {
    const bytes = await twoFrames(format);
    assert.equal((await sharp(bytes).metadata()).pages, 2, "the input has two frames");
    const img = await decodeImage(bytes, "anim");
    assert.equal(img.width, 4);
    assert.equal(img.height, 3);
    assert.deepEqual(pixels(img).slice(0, 3), [255, 0, 0]);
    assert.deepEqual(pixels(img).slice(-3), [255, 0, 0]);
  });
}

test("lossless WebP and TIFF decode exactly", async () => {
  const rgb = [1, 2, 3, 40, 50, 60, 70, 80, 90, 200, 210, 220];
  for (const format of ["webp", "tiff", "png"] as const) {
    assert.deepEqual(pixels(await decodeImage(await encodeRgb(2, 2, rgb, format), format)), rgb, format);
  }
});

test("EXIF orientation is not applied (PIL does not rotate on open)", async () => {
  const rgb = [255, 255, 255, 0, 0, 0, 255, 255, 255];
  const oriented = await sharp(Buffer.from(rgb), { raw: { width: 3, height: 1, channels: 3 } })
    .png()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal((await sharp(oriented).metadata()).orientation, 6);
  const img = await decodeImage(oriented, "o");
  assert.equal(img.width, 3);
  assert.equal(img.height, 1);
  assert.deepEqual(pixels(img), rgb);
});

test("hostile: empty bytes → image_invalid naming the id", async () => {
  const e = await rejectsWithCode(decodeImage(new Uint8Array(0), "dir/empty.png"), "image_invalid");
  assert.match(e.message, /"dir\/empty\.png"/);
});

test("hostile: text and SVG are not images → image_invalid", async () => {
  await rejectsWithCode(decodeImage(Buffer.from("hello, I am not an image"), "t.png"), "image_invalid");
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><image href="file:///etc/passwd"/></svg>');
  const e = await rejectsWithCode(decodeImage(svg, "x.svg"), "image_invalid");
  assert.match(e.message, /not a supported image/);
});

test("hostile: truncated PNG and JPEG → image_invalid (not a half-grey image)", async () => {
  const noise = sharp({ create: { width: 64, height: 64, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 40 } } });
  const png = await noise.clone().png().toBuffer();
  const jpeg = await noise.clone().jpeg().toBuffer();
  await rejectsWithCode(decodeImage(png.subarray(0, png.length >> 1), "half.png"), "image_invalid");
  await rejectsWithCode(decodeImage(jpeg.subarray(0, jpeg.length >> 1), "half.jpg"), "image_invalid");
});

test("hostile: a PNG header declaring 50000×50000 is refused from the header → image_too_large", async () => {
  const e = await rejectsWithCode(decodeImage(pngBomb(50_000, 50_000), "bomb.png"), "image_too_large");
  assert.equal(e.details?.width, 50_000);
  assert.equal(e.details?.height, 50_000);
  assert.match(e.message, /"bomb\.png".*50000×50000/);
});

test("the pixel limit is inclusive: exactly maxPixels decodes, one more is refused", async () => {
  const png = encodePng({ width: 10, height: 10, colorType: 0, samples: new Array(100).fill(3) });
  const limits = { ...DEFAULT_INGEST_LIMITS, maxPixels: 100 };
  assert.equal((await decodeImage(png, "ok", limits)).data.length, 300);
  await rejectsWithCode(decodeImage(png, "big", { ...limits, maxPixels: 99 }), "image_too_large");
});

test("hostile: a file over maxFileBytes is refused before decoding → image_too_large", async () => {
  const png = encodePng({ width: 1, height: 1, colorType: 0, samples: [1] });
  await rejectsWithCode(decodeImage(png, "f", { ...DEFAULT_INGEST_LIMITS, maxFileBytes: png.length - 1 }), "image_too_large");
});
