/**
 * What a file is, from its first bytes. Content decides, never the extension: a PNG named
 * ".jpg" is a PNG, a text file named ".png" is not an image. Only the formats below are decoded;
 * everything else sharp could open (SVG, PDF, HEIF, …) is refused, because those formats can
 * reference external resources or carry far more attack surface than a dataset needs.
 */
import { TAR_BLOCK, tarChecksumOk } from "./tar-header.ts";

export const IMAGE_FORMATS = ["png", "jpeg", "webp", "gif", "tiff"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
export const IMAGE_FORMATS_TEXT = "PNG, JPEG, WebP, GIF or TIFF";

export type ContainerFormat = "zip" | "gzip" | "tar" | "npy" | "bzip2" | "xz" | "zstd" | "7z" | "rar";

export type Sniffed =
  | { readonly kind: "image"; readonly format: ImageFormat }
  | { readonly kind: "container"; readonly format: ContainerFormat }
  | { readonly kind: "unknown" };

/** Bytes needed for a complete verdict (a tar header block). */
export const SNIFF_BYTES = TAR_BLOCK;

function startsWith(head: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (head.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (head[at + i] !== magic[i]) return false;
  return true;
}

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

export function sniffImage(head: Uint8Array): ImageFormat | null {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(head, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(head, ascii("GIF87a")) || startsWith(head, ascii("GIF89a"))) return "gif";
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8)) return "webp";
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  if (startsWith(head, [0x49, 0x49, 0x2b, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])) return "tiff";
  return null;
}

export function sniff(head: Uint8Array): Sniffed {
  const image = sniffImage(head);
  if (image) return { kind: "image", format: image };
  const container = sniffContainer(head);
  if (container) return { kind: "container", format: container };
  return { kind: "unknown" };
}

function sniffContainer(head: Uint8Array): ContainerFormat | null {
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return "zip";
  if (startsWith(head, [0x1f, 0x8b])) return "gzip";
  if (startsWith(head, [0x93, ...ascii("NUMPY")])) return "npy";
  if (startsWith(head, ascii("BZh"))) return "bzip2";
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz";
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return "zstd";
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return "7z";
  if (startsWith(head, ascii("Rar!\x1a\x07"))) return "rar";
  // A tar has no magic at offset 0; "ustar" at 257, or a valid header checksum for pre-POSIX tars.
  if (startsWith(head, ascii("ustar"), 257) || tarChecksumOk(head)) return "tar";
  return null;
}

/** The skip reason recorded for a file or member that is not a point. */
/**
 * Which members an archive index keeps (given the member's first bytes and size); the rest are
 * listed as skipped. A point set keeps images; a TF.js model archive keeps every file.
 */
export type KeepMember = (head: Uint8Array, size: number) => boolean;
export const keepImages: KeepMember = (head, size) => size > 0 && sniffImage(head) !== null;

export function skipReason(head: Uint8Array, size: number): string {
  if (size === 0) return "empty file";
  const s = sniff(head);
  if (s.kind === "container") return `nested ${s.format} archive is not opened; extract it into the set instead`;
  return `not an image (content is not ${IMAGE_FORMATS_TEXT})`;
}
