/**
 * Encoded image bytes → 8-bit RGB, decoded the way the training pipelines of the audited encoders
 * did (torchvision's `PIL.Image.open(f).convert("RGB")`), so the audit sees the pixels the encoder
 * was trained on:
 * - grey (and grey+alpha) is replicated to three channels; alpha is dropped, not composited
 *   (PIL's convert("RGB") drops it too), so the colour under a transparent pixel is kept;
 * - 16-bit samples keep their high byte (v >> 8), as PIL does for 16-bit RGB PNGs. (PIL clips
 *   16-bit *grey* to 255 instead; that is a PIL defect and is not copied);
 * - embedded ICC profiles are ignored, as PIL ignores them: the stored values are returned;
 * - CMYK goes through libvips' built-in CMYK profile (PIL uses a naive 255 − C − K; values differ);
 * - EXIF orientation is not applied (PIL does not rotate on open);
 * - GIF, WebP and TIFF: the first frame/page only.
 * Size is refused from the header, before any pixel is decoded. Errors name the point id, never a
 * filesystem path: sharp only ever sees a buffer, and its own message goes to `cause`, not to users.
 */
import sharp, { type Metadata } from "sharp";
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "./limits.ts";
import { decodePlainPng } from "./png-decode.ts";
import { quoteId } from "./point-id.ts";
import { IMAGE_FORMATS_TEXT, sniffImage, type ImageFormat } from "./sniff.ts";

export type DecodeLimits = Pick<IngestLimits, "maxPixels" | "maxFileBytes">;

// libvips' operation cache keeps the results of recent operations (up to 50 MB) for a repeat of
// the same operation on the same input. Every decode here is of a new buffer, so it never hits and
// only costs: with it off sharp took 0.90 instead of 1.06 ms of CPU per 32×32 PNG, and 1.7
// instead of 2.1–2.7 ms per 256×256 one, on the 2-core machine (four decodes at a time).
sharp.cache(false);

/** Sample formats that convert to 8 bits without a range guess (floats have no agreed range). */
const DECODABLE_DEPTHS = new Set(["uchar", "char", "ushort", "short"]);

/** Refusal of an image file by its byte size (readers check this before reading the bytes). */
export function imageFileTooLarge(id: string, bytes: number, limit: number): SslmemError {
  return new SslmemError(
    "image_too_large",
    `point ${quoteId(id)}: the file has ${bytes} bytes, more than the limit of ${limit} (maxFileBytes)`,
    { id, bytes, limit },
  );
}

export async function decodeImage(
  bytes: Uint8Array,
  id: string,
  limits: DecodeLimits = DEFAULT_INGEST_LIMITS,
): Promise<RgbImage> {
  const point = `point ${quoteId(id)}`;
  if (bytes.length === 0) throw new SslmemError("image_invalid", `${point}: the file is empty`, { id });
  if (bytes.length > limits.maxFileBytes) throw imageFileTooLarge(id, bytes.length, limits.maxFileBytes);
  const format = sniffImage(bytes);
  if (format === null) {
    throw new SslmemError("image_invalid", `${point}: not a supported image (${IMAGE_FORMATS_TEXT})`, { id });
  }
  // libspng calls a header whose sizes overflow its own bounds "corrupt" (e.g. 2^31−1 × 1), so
  // the declared size of a PNG is read here first: a bomb is refused as one, whatever the decoder.
  const declared = format === "png" ? pngDeclaredSize(bytes) : null;
  if (declared !== null && declared.width * declared.height > limits.maxPixels) throw tooLarge(id, declared.width, declared.height, limits);
  // A small plain PNG (most datasets' files) is decoded directly, without libvips' per-image
  // set-up; any other file, and any doubt about this one, goes to sharp (png-decode.ts).
  if (declared !== null && declared.width * declared.height <= PLAIN_PNG_MAX_PIXELS) {
    const plain = decodePlainPng(bytes);
    if (plain !== undefined) return plain;
  }
  return decodeWithSharp(bytes, id, format, limits);
}

/**
 * Above this many pixels a PNG goes to sharp even when it is plain: sharp decodes on libuv's
 * threads, beside a run on the device, where the direct decoder would hold the main thread
 * (about 0.3 ms for 128×128 and 0.9 ms for 256×256 noise here, against ~1 ms of CPU for sharp
 * whatever the size up to ~128×128: 1.0 ms at 32×32, 1.7–2.7 ms at 256×256).
 */
const PLAIN_PNG_MAX_PIXELS = 128 * 128;

function tooLarge(id: string, width: number, height: number, limits: DecodeLimits): SslmemError {
  return new SslmemError(
    "image_too_large",
    `point ${quoteId(id)}: ${width}×${height} pixels is more than the limit of ${limits.maxPixels} (maxPixels)`,
    { id, width, height, limit: limits.maxPixels },
  );
}

/** The decoding of every file (of a sniffed `format`) that png-decode.ts does not take, by sharp (libvips). */
export async function decodeWithSharp(bytes: Uint8Array, id: string, format: ImageFormat, limits: DecodeLimits = DEFAULT_INGEST_LIMITS): Promise<RgbImage> {
  const point = `point ${quoteId(id)}`;
  const corrupt = (cause: unknown) =>
    new SslmemError("image_invalid", `${point}: the ${format.toUpperCase()} data is corrupt or truncated`, { id, format }, {
      cause,
    });

  // Header only: libvips opens lazily, so this reads dimensions without decoding pixels.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, pages: 1, page: 0 }).metadata();
  } catch (e) {
    throw corrupt(e);
  }
  if (meta.format !== format) throw corrupt(new Error(`sharp read ${String(meta.format)}`));
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw corrupt(new Error("no dimensions"));
  if (width * height > limits.maxPixels) throw tooLarge(id, width, height, limits);
  if (meta.depth !== undefined && !DECODABLE_DEPTHS.has(meta.depth)) {
    throw new SslmemError("image_invalid", `${point}: ${meta.depth} samples are not supported; use 8- or 16-bit integers`, {
      id,
      depth: meta.depth,
    });
  }

  try {
    const { data, info } = await sharp(bytes, {
      // Enforced again while decoding, in case a format reports different sizes to metadata().
      limitInputPixels: limits.maxPixels,
      pages: 1,
      page: 0,
      ignoreIcc: true,
      autoOrient: false,
      // Fails on truncation and decoder errors; tolerates warnings (e.g. extraneous JPEG bytes) as PIL does.
      failOn: "error",
    })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`unexpected decoder output: ${info.channels} channels`);
    }
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    if (e instanceof Error && /pixel limit/i.test(e.message)) {
      throw new SslmemError("image_too_large", `${point}: the image is larger than the limit of ${limits.maxPixels} pixels (maxPixels)`, {
        id,
        limit: limits.maxPixels,
      }, { cause: e });
    }
    throw corrupt(e);
  }
}

/** Width and height from a PNG's IHDR (always the first chunk), or null when it is not there. */
function pngDeclaredSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isIhdr = bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52;
  return isIhdr ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
}
