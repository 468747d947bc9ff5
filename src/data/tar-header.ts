/**
 * Pure parsing of tar header blocks: ustar (POSIX name prefix), GNU (base-256 numbers) and pax
 * extended-header records. No I/O; the indexer in tar.ts walks the archive with these.
 */
import { decodeName } from "./point-id.ts";

export const TAR_BLOCK = 512;

export interface TarHeader {
  /** Name from the header block itself (ustar prefix joined); pax/GNU long names override it. */
  readonly name: string;
  /** Data size in bytes as written in the block (a pax `size` record overrides it). */
  readonly size: number;
  /** Type flag as a character; "\0" is the pre-POSIX spelling of a regular file. */
  readonly type: string;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < TAR_BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The header checksum: the byte sum with the checksum field read as spaces (signed sums too, as old tars wrote). */
export function tarChecksumOk(block: Uint8Array): boolean {
  if (block.length < TAR_BLOCK) return false;
  const stored = parseNumeric(block.subarray(148, 156));
  if (stored === null) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** A numeric field: octal text (NUL/space padded) or GNU base-256 (high bit set). null when malformed. */
export function parseNumeric(field: Uint8Array): number | null {
  if (field.length > 0 && (field[0] & 0x80) !== 0) {
    if (field[0] === 0xff) return null; // negative: never a valid size
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i];
      if (value > Number.MAX_SAFE_INTEGER) return null;
    }
    return value;
  }
  const text = Buffer.from(field).toString("latin1").replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (!/^[0-7]*$/.test(text)) return null;
  const value = text === "" ? 0 : parseInt(text, 8);
  return Number.isSafeInteger(value) ? value : null;
}

function cString(field: Uint8Array): Uint8Array {
  const end = field.indexOf(0);
  return end < 0 ? field : field.subarray(0, end);
}

/** Header fields of a block whose checksum was verified; null when its size field is malformed. */
export function parseTarHeader(block: Uint8Array): TarHeader | null {
  const size = parseNumeric(block.subarray(124, 136));
  if (size === null) return null;
  const name = cString(block.subarray(0, 100));
  // Only POSIX ustar ("ustar\0") has a name prefix; old GNU ("ustar  \0") uses those bytes for times.
  const posix = Buffer.from(block.subarray(257, 263)).toString("latin1") === "ustar\0";
  const prefix = posix ? cString(block.subarray(345, 500)) : new Uint8Array(0);
  const full = prefix.length > 0 ? `${decodeName(prefix)}/${decodeName(name)}` : decodeName(name);
  return { name: full, size, type: String.fromCharCode(block[156]) };
}

/**
 * pax extended header records: "<len> <key>=<value>\n", len counting the whole record in bytes.
 * Values are UTF-8. null when the data is not a well-formed record sequence.
 */
export function parsePaxRecords(data: Uint8Array): Map<string, string> | null {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, pos);
    if (space < 0 || space - pos > 20) return null;
    const lenText = Buffer.from(data.subarray(pos, space)).toString("latin1");
    if (!/^[0-9]+$/.test(lenText)) return null;
    const len = Number(lenText);
    const end = pos + len;
    if (len <= space - pos + 1 || end > data.length || data[end - 1] !== 0x0a) return null;
    const record = Buffer.from(data.subarray(space + 1, end - 1)).toString("utf8");
    const eq = record.indexOf("=");
    if (eq <= 0) return null;
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos = end;
  }
  return records;
}
