/**
 * PNG bytes written by hand (signature, chunks with real CRCs, zlib IDAT), so tests control the
 * colour type, bit depth and chunks exactly; and image files built with sharp for other formats.
 */
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { crc32 } from "../../src/data/crc32.ts";

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([len, typeAndData, crc]);
}

function ihdr(width: number, height: number, bitDepth: number, colorType: number): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(width, 0);
  b.writeUInt32BE(height, 4);
  b[8] = bitDepth;
  b[9] = colorType;
  return b; // compression 0, filter 0, interlace 0
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface PngSpec {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA */
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth?: 8 | 16;
  /** Samples row-major, channels interleaved (values up to 65535 for 16-bit). */
  samples: readonly number[];
  /** Chunks placed before IDAT (e.g. PLTE, tRNS, iCCP). */
  chunks?: { type: string; data: Uint8Array }[];
  /** Chunks placed between the last IDAT and IEND (e.g. tEXt). */
  chunksAfter?: { type: string; data: Uint8Array }[];
  /** Row filter types (0 none, 1 sub, 2 up, 3 average, 4 Paeth), row by row, repeated; default none. */
  filters?: readonly number[];
  /** The zlib stream split over this many IDAT chunks (default 1). */
  idatChunks?: number;
}

/** The PNG row filters, written from the specification's definitions (encoder side). */
function filterRow(type: number, row: Uint8Array, above: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = above[i];
    const c = i >= bpp ? above[i - bpp] : 0;
    let predictor = 0;
    if (type === 1) predictor = a;
    else if (type === 2) predictor = b;
    else if (type === 3) predictor = Math.floor((a + b) / 2);
    else if (type === 4) {
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i] = (row[i] - predictor) & 0xff;
  }
  return out;
}

export function encodePng(spec: PngSpec): Buffer {
  const depth = spec.bitDepth ?? 8;
  const bytesPerSample = depth / 8;
  const rowSamples = spec.width * CHANNELS[spec.colorType];
  if (spec.samples.length !== rowSamples * spec.height) throw new Error("sample count does not match the size");
  const stride = rowSamples * bytesPerSample;
  const bpp = Math.max(1, CHANNELS[spec.colorType] * bytesPerSample);
  const filters = spec.filters ?? [0];
  const raw = Buffer.alloc(spec.height * (1 + stride));
  let above = new Uint8Array(stride);
  for (let y = 0; y < spec.height; y++) {
    const row = Buffer.alloc(stride);
    for (let x = 0; x < rowSamples; x++) {
      const v = spec.samples[y * rowSamples + x];
      if (depth === 16) row.writeUInt16BE(v, x * 2);
      else row[x] = v;
    }
    const type = filters[y % filters.length];
    raw[y * (1 + stride)] = type;
    raw.set(filterRow(type, row, above, bpp), y * (1 + stride) + 1);
    above = row;
  }
  const z = deflateSync(raw);
  const parts = spec.idatChunks ?? 1;
  const size = Math.ceil(z.length / parts);
  const idat = Array.from({ length: parts }, (_, i) => pngChunk("IDAT", z.subarray(i * size, (i + 1) * size)));
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk("IHDR", ihdr(spec.width, spec.height, depth, spec.colorType)),
    ...(spec.chunks ?? []).map((c) => pngChunk(c.type, c.data)),
    ...idat,
    ...(spec.chunksAfter ?? []).map((c) => pngChunk(c.type, c.data)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

/**
 * A decompression-bomb header: a valid PNG whose IHDR declares width×height RGB pixels, with a
 * tiny IDAT. Decoding it would need width×height×3 bytes; only the header should ever be read.
 */
export function pngBomb(width: number, height: number): Buffer {
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk("IHDR", ihdr(width, height, 8, 2)),
    pngChunk("IDAT", deflateSync(Buffer.alloc(1024))),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

/** The chunks of a PNG, in order (to lift e.g. an iCCP chunk out of a sharp-written file). */
export function pngChunks(png: Buffer): { type: string; data: Buffer }[] {
  const out: { type: string; data: Buffer }[] = [];
  let p = PNG_SIGNATURE.length;
  while (p + 8 <= png.length) {
    const len = png.readUInt32BE(p);
    out.push({ type: png.toString("latin1", p + 4, p + 8), data: png.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return out;
}

/** RGB pixels (row-major) encoded by sharp into `format`. */
export async function encodeRgb(
  width: number,
  height: number,
  rgb: readonly number[],
  format: "png" | "jpeg" | "webp" | "tiff" | "gif",
): Promise<Buffer> {
  const img = sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } });
  if (format === "webp") return img.webp({ lossless: true }).toBuffer();
  if (format === "jpeg") return img.jpeg({ quality: 95 }).toBuffer();
  // sharp's TIFF default is JPEG compression; LZW keeps the samples exact.
  if (format === "tiff") return img.tiff({ compression: "lzw" }).toBuffer();
  return img.toFormat(format).toBuffer();
}

/** A solid-colour image, w×h, as PNG bytes (the usual point in archive tests). */
export function solidPng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const samples: number[] = [];
  for (let i = 0; i < width * height; i++) samples.push(...rgb);
  return encodePng({ width, height, colorType: 2, samples });
}
