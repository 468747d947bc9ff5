/**
 * NumPy .npy files holding a uint8 image batch [N,H,W,C] (C ∈ {1,3,4}) or [N,H,W] (grey),
 * C-order, format versions 1–3. Channels are taken as RGB(A) in that order. Point i has id
 * String(i), and images are read by offset on `load`: the file is never loaded whole.
 */
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { ByteSource } from "./byte-source.ts";
import type { IngestLimits } from "./limits.ts";
import { interleavedToRgb } from "./pixels.ts";
import { tooManyPoints } from "./point-set.ts";

export interface NpyLayout {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3 | 4;
  /** Byte position of image 0. */
  readonly dataOffset: number;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** Headers are a short dict literal; numpy itself caps them far below this. */
const MAX_HEADER_BYTES = 1 << 20;
const UINT8_DESCRS = new Set(["|u1", "<u1", ">u1", "=u1", "u1", "|B", "B"]);

function invalid(why: string): SslmemError {
  return new SslmemError("archive_invalid", `the .npy file is not usable: ${why}`);
}

/** The fields of the header dict literal, e.g. {'descr': '|u1', 'fortran_order': False, 'shape': (2, 4, 4, 3), } */
export function parseNpyHeader(text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") || !trimmed.endsWith("}")) throw invalid("the header is not a dict literal");
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(trimmed)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)\b/.exec(trimmed)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(trimmed)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw invalid("the header lacks descr, fortran_order or shape");
  }
  const dims = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const shape = dims.map((d) => {
    const m = /^([0-9]{1,15})L?$/.exec(d);
    if (!m) throw invalid(`the shape (${shapeText}) is malformed`);
    return Number(m[1]);
  });
  return { descr, fortranOrder: fortran === "True", shape };
}

export async function readNpyLayout(src: ByteSource, limits: IngestLimits): Promise<NpyLayout> {
  if (src.size < 10) throw invalid("the file is too short (truncated)");
  const pre = await src.read(0, Math.min(12, src.size));
  if (!pre.subarray(0, 6).equals(MAGIC)) throw invalid("it does not start with the .npy magic");
  const major = pre[6];
  if (major !== 1 && major !== 2 && major !== 3) throw invalid(`format version ${major} is not supported (1–3 are)`);
  const prefix = major === 1 ? 10 : 12;
  if (pre.length < prefix) throw invalid("the file is too short (truncated)");
  const headerLength = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
  if (headerLength > MAX_HEADER_BYTES || prefix + headerLength > src.size) throw invalid("the header is truncated or oversized");
  const headerBytes = await src.read(prefix, headerLength);
  const header = parseNpyHeader(headerBytes.toString(major === 3 ? "utf8" : "latin1"));

  if (!UINT8_DESCRS.has(header.descr)) {
    throw invalid(`dtype ${JSON.stringify(header.descr)} is not supported; save images as uint8 (np.asarray(x, dtype=np.uint8))`);
  }
  const { shape } = header;
  const grey = shape.length === 3;
  if (!grey && shape.length !== 4) {
    throw invalid(`shape (${shape.join(", ")}) is not [N,H,W,C] or [N,H,W]`);
  }
  const [count, height, width] = shape;
  const channels = grey ? 1 : shape[3];
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw invalid(`images have ${channels} channels; 1 (grey), 3 (RGB) or 4 (RGBA) are supported, channels last`);
  }
  // Fortran order of a multi-dimensional array would scatter each image through the file.
  if (header.fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw invalid("the array is in Fortran order; save np.ascontiguousarray(x) instead");
  }
  if (count === 0) throw new SslmemError("candidates_empty", "the .npy file holds no images (N = 0)");
  if (count > limits.maxPoints) throw tooManyPoints(limits, "the .npy file");
  if (height === 0 || width === 0) throw invalid(`images are ${height}×${width}`);
  if (height * width > limits.maxPixels) {
    throw new SslmemError(
      "image_too_large",
      `the .npy images are ${width}×${height} pixels, more than the limit of ${limits.maxPixels} (maxPixels)`,
      { width, height, limit: limits.maxPixels },
    );
  }
  const dataOffset = prefix + headerLength;
  if (dataOffset + count * height * width * channels > src.size) {
    throw invalid(`the data is shorter than shape (${shape.join(", ")}) needs (truncated)`);
  }
  return { count, height, width, channels, dataOffset };
}

export async function readNpyImage(src: ByteSource, layout: NpyLayout, index: number): Promise<RgbImage> {
  const frame = layout.height * layout.width * layout.channels;
  const bytes = await src.read(layout.dataOffset + index * frame, frame);
  return interleavedToRgb(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), layout.width, layout.height, layout.channels);
}
