/**
 * A direct decoder for the plain PNG files that most image datasets are (CIFAR-style folders:
 * 8-bit RGB, RGBA or grey, not interlaced), so that an audit of small images does not spend its
 * cores on libvips' per-image set-up: sharp took about 1 ms of CPU for one 32×32 PNG on this
 * project's 2-core machine (a metadata read and a decode pipeline), this 0.14 ms for a 32×32 PNG
 * of noise (most of it zlib's inflate), 0.3 ms at 128×128.
 *
 * It returns the pixels sharp returns for the same file (image-decode.ts defines them:
 * PIL's convert("RGB"), alpha dropped, grey replicated, 16-bit samples keep their high byte;
 * test/data/png-decode.test.ts compares the two on every kind of file it takes), and it answers
 * only when the file is clean and simple: every chunk's CRC right, nothing after IEND, the
 * image data inflating to exactly its size, and no chunk outside ANCILLARY_IGNORED (colour
 * management, gamma, sBIT and unknown chunks go to sharp). Everything else — interlaced,
 * sub-byte depths, any doubt — is `undefined`, and image-decode.ts hands the file to sharp, whose
 * errors and conversions stay the one definition of a refused or converted file.
 */
import { inflateSync } from "node:zlib";
import type { RgbImage } from "../core/image.ts";
import { crc32 } from "./crc32.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Chunks that do not change the decoded RGB values (text, time, physical size, background
 * colour, suggested palette, transparency — alpha is dropped as sharp drops it). Any other chunk
 * sends the file to sharp.
 */
const ANCILLARY_IGNORED = new Set(["tEXt", "zTXt", "iTXt", "tIME", "pHYs", "bKGD", "sPLT", "hIST", "tRNS"]);

/** Samples per pixel of each colour type this decoder takes: grey, RGB, palette, grey + alpha, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
}

/** The decoded image, or undefined when the file is not one this decoder takes (see above). */
export function decodePlainPng(bytes: Uint8Array): RgbImage | undefined {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  const data: Uint8Array[] = [];
  let dataDone = false;
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) return undefined;
    const length = view.getUint32(at);
    if (length > bytes.length - at - 12) return undefined;
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) return undefined;
    at += 12 + length;
    if (header === undefined) {
      // IHDR first, always.
      if (type !== "IHDR" || length !== 13) return undefined;
      header = readHeader(body);
      if (header === undefined) return undefined;
      continue;
    }
    if (type === "IEND") {
      if (length !== 0 || at !== bytes.length) return undefined;
      break;
    }
    if (type === "IDAT") {
      // Consecutive IDAT chunks form one zlib stream.
      if (dataDone) return undefined;
      data.push(body);
      continue;
    }
    if (data.length > 0) dataDone = true;
    if (type === "PLTE") {
      if (palette !== undefined || data.length > 0 || length === 0 || length % 3 !== 0) return undefined;
      palette = body;
      continue;
    }
    if (!ANCILLARY_IGNORED.has(type)) return undefined;
  }
  if (header === undefined || data.length === 0) return undefined;
  if ((header.colorType === 3) !== (palette !== undefined)) return undefined;
  const { width, height, depth, colorType } = header;
  const bytesPerPixel = (CHANNELS[colorType] * depth) / 8;
  const stride = width * bytesPerPixel;
  const expected = height * (stride + 1);
  let raw: Uint8Array;
  try {
    raw = inflateSync(data.length === 1 ? data[0] : Buffer.concat(data), { maxOutputLength: expected + 1 });
  } catch {
    return undefined;
  }
  if (raw.length !== expected || !unfilter(raw, height, stride, bytesPerPixel)) return undefined;
  return toRgb(raw, header, stride, palette ?? new Uint8Array(0));
}

function readHeader(body: Uint8Array): Header | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const width = view.getUint32(0);
  const height = view.getUint32(4);
  const [depth, colorType, compression, filter, interlace] = body.subarray(8, 13);
  if (width === 0 || height === 0 || compression !== 0 || filter !== 0 || interlace !== 0) return undefined;
  if (!(colorType in CHANNELS)) return undefined;
  if (colorType === 3 ? depth !== 8 : depth !== 8 && depth !== 16) return undefined;
  // Width and height were held to the pixel limit before (image-decode.ts); the row must also fit.
  if (width * (CHANNELS[colorType] * depth) / 8 + 1 > 2 ** 30) return undefined;
  return { width, height, depth, colorType };
}

/**
 * Undoes the PNG row filters in place (each row: a filter byte, then the filtered bytes; the
 * filters read the row above and the byte one pixel to the left). False on an unknown filter.
 */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): boolean {
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const up = row - (stride + 1); // the row above (its filter byte excluded); none for y = 0
    const filter = raw[row - 1];
    switch (filter) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 0xff;
        break;
      case 2:
        if (y > 0) for (let i = 0; i < stride; i++) raw[row + i] = (raw[row + i] + raw[up + i]) & 0xff;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? raw[row + i - bpp] : 0;
          const above = y > 0 ? raw[up + i] : 0;
          raw[row + i] = (raw[row + i] + ((left + above) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[row + i - bpp] : 0;
          const b = y > 0 ? raw[up + i] : 0;
          const c = i >= bpp && y > 0 ? raw[up + i - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          raw[row + i] = (raw[row + i] + predictor) & 0xff;
        }
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Unfiltered rows → RGB bytes: alpha dropped, grey replicated, 16-bit samples' high byte, palette looked up. */
function toRgb(raw: Uint8Array, { width, height, depth, colorType }: Header, stride: number, palette: Uint8Array): RgbImage | undefined {
  const out = new Uint8Array(width * height * 3);
  const channels = CHANNELS[colorType];
  const sampleBytes = depth / 8;
  const pixelBytes = channels * sampleBytes;
  let o = 0;
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    if (colorType === 2 && depth === 8) {
      out.set(raw.subarray(row, row + stride), o);
      o += stride;
      continue;
    }
    for (let x = 0; x < width; x++) {
      const p = row + x * pixelBytes;
      if (colorType === 3) {
        const index = raw[p] * 3;
        // An index past the palette: sharp's decoder decides what that is.
        if (index + 2 >= palette.length) return undefined;
        out[o] = palette[index];
        out[o + 1] = palette[index + 1];
        out[o + 2] = palette[index + 2];
      } else if (colorType === 0 || colorType === 4) {
        out[o] = out[o + 1] = out[o + 2] = raw[p];
      } else {
        out[o] = raw[p];
        out[o + 1] = raw[p + sampleBytes];
        out[o + 2] = raw[p + 2 * sampleBytes];
      }
      o += 3;
    }
  }
  return { width, height, data: out };
}
