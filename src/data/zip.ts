/**
 * Zip archives read from their central directory (zip64 included), stored and deflate members.
 * The central directory is the index; each point's bytes are read by position and inflated on
 * `load`, bounded by the member's declared size and verified by CRC-32.
 *
 * Bomb defences, all before anything is inflated: entry count, the sum of declared sizes, the
 * ratio of each member and of the whole archive, and overlapping members (how a small zip makes
 * many members share one compressed stream) → `archive_unsafe`. Declared sizes are then enforced
 * while inflating, so a member that lies about its size cannot expand further.
 */
import { promisify } from "node:util";
import { constants as zlibConstants, inflateRaw, inflateRawSync } from "node:zlib";
import { SslmemError } from "../core/errors.ts";
import type { ByteSource } from "./byte-source.ts";
import { crc32 } from "./crc32.ts";
import { imageFileTooLarge } from "./image-decode.ts";
import type { IngestLimits } from "./limits.ts";
import { normalizeMemberPath } from "./member-path.ts";
import { decodeName, quoteId } from "./point-id.ts";
import { tooManyPoints, type ArchiveIndex, type SkippedEntry } from "./point-set.ts";
import { SNIFF_BYTES, keepImages, skipReason, type KeepMember } from "./sniff.ts";

export interface ZipMember {
  readonly id: string;
  readonly dataOffset: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly method: 0 | 8;
  readonly crc: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_BYTES = 22;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const MADE_BY_UNIX = 3;

const inflateRawAsync = promisify(inflateRaw);

function invalid(why: string): SslmemError {
  return new SslmemError("archive_invalid", `the zip archive is invalid: ${why}`);
}

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("a 64-bit size or offset is out of range");
  return Number(v);
}

interface Directory {
  readonly entries: number;
  readonly offset: number;
  readonly size: number;
}

/** The end-of-central-directory record (and its zip64 twin): where the index is and how big. */
async function readDirectoryLocation(src: ByteSource): Promise<Directory> {
  if (src.size < EOCD_BYTES) throw invalid("the file is too short to be a zip (truncated)");
  const tailLength = Math.min(src.size, EOCD_BYTES + U16_MAX);
  const tailStart = src.size - tailLength;
  const tail = await src.read(tailStart, tailLength);
  let at = -1;
  // The record's comment must run exactly to the end of the file; this rejects stray signatures.
  for (let i = tailLength - EOCD_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && tail.readUInt16LE(i + 20) === tailLength - i - EOCD_BYTES) {
      at = i;
      break;
    }
  }
  if (at < 0) throw invalid("no end-of-central-directory record (truncated, or not a zip)");
  const eocdPos = tailStart + at;
  let disk = tail.readUInt16LE(at + 4);
  let directoryDisk = tail.readUInt16LE(at + 6);
  let entriesOnDisk = tail.readUInt16LE(at + 8);
  let entries = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  let end = eocdPos;

  const locatorPos = eocdPos - 20;
  const locator = locatorPos >= 0 ? await src.read(locatorPos, 20) : null;
  if (locator && locator.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
    const recordPos = u64(locator, 8);
    if (locator.readUInt32LE(4) !== 0 || locator.readUInt32LE(16) > 1) throw invalid("multi-disk archives are not supported");
    if (recordPos + 56 > locatorPos) throw invalid("the zip64 record is out of place");
    const record = await src.read(recordPos, 56);
    if (record.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw invalid("the zip64 record is missing");
    disk = record.readUInt32LE(16);
    directoryDisk = record.readUInt32LE(20);
    entriesOnDisk = u64(record, 24);
    entries = u64(record, 32);
    size = u64(record, 40);
    offset = u64(record, 48);
    end = recordPos;
  } else if (entries === U16_MAX || size === U32_MAX || offset === U32_MAX) {
    throw invalid("zip64 sizes without a zip64 record");
  }
  if (disk !== 0 || directoryDisk !== 0 || entriesOnDisk !== entries) {
    throw invalid("multi-disk (spanned) archives are not supported");
  }
  // Strict: no data between the central directory and its end record (self-extractors are refused).
  if (offset + size !== end) throw invalid("the central directory is not where the end record says (truncated or has extra data)");
  return { entries, offset, size };
}

/** Sequential reads of the central directory through a bounded window. */
class Cursor {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  constructor(
    private readonly src: ByteSource,
    private pos: number,
    private readonly end: number,
  ) {}
  async take(n: number): Promise<Buffer> {
    if (this.pos + n > this.end) throw invalid("the central directory is truncated");
    const rel = this.pos - this.windowStart;
    if (rel < 0 || rel + n > this.window.length) {
      this.windowStart = this.pos;
      this.window = await this.src.read(this.pos, Math.min(Math.max(n, 1 << 20), this.end - this.pos));
    }
    const from = this.pos - this.windowStart;
    this.pos += n;
    return this.window.subarray(from, from + n);
  }
}

interface CentralEntry {
  readonly id: string;
  readonly nameBytes: Buffer;
  readonly method: 0 | 8;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localOffset: number;
}

/** Sizes and offset from the zip64 extra field, for the fields whose 32-bit value is saturated. */
function applyZip64(extra: Buffer, sizes: { u: number; c: number; off: number }, diskSaturated: boolean): void {
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    const body = extra.subarray(p + 4, p + 4 + len);
    if (body.length !== len) throw invalid("an extra field is truncated");
    if (id === 0x0001) {
      let q = 0;
      const next = () => {
        if (q + 8 > body.length) throw invalid("the zip64 extra field is too short");
        const v = u64(body, q);
        q += 8;
        return v;
      };
      if (sizes.u === U32_MAX) sizes.u = next();
      if (sizes.c === U32_MAX) sizes.c = next();
      if (sizes.off === U32_MAX) sizes.off = next();
      if (diskSaturated && q + 4 > body.length) throw invalid("the zip64 extra field is too short");
      return;
    }
    p += 4 + len;
  }
  if (sizes.u === U32_MAX || sizes.c === U32_MAX || sizes.off === U32_MAX) throw invalid("a zip64 extra field is missing");
}

async function readCentralDirectory(src: ByteSource, dir: Directory, limits: IngestLimits): Promise<CentralEntry[]> {
  const cursor = new Cursor(src, dir.offset, dir.offset + dir.size);
  const files: CentralEntry[] = [];
  const seen = new Set<string>();
  let expanded = 0;
  for (let n = 0; n < dir.entries; n++) {
    const fixed = await cursor.take(CENTRAL_BYTES);
    if (fixed.readUInt32LE(0) !== SIG_CENTRAL) throw invalid(`central directory entry #${n + 1} is corrupt`);
    const madeBy = fixed.readUInt16LE(4);
    const flags = fixed.readUInt16LE(8);
    const method = fixed.readUInt16LE(10);
    const crc = fixed.readUInt32LE(16);
    const sizes = { c: fixed.readUInt32LE(20), u: fixed.readUInt32LE(24), off: fixed.readUInt32LE(42) };
    const nameBytes = Buffer.from(await cursor.take(fixed.readUInt16LE(28)));
    const extra = await cursor.take(fixed.readUInt16LE(30));
    await cursor.take(fixed.readUInt16LE(32)); // comment
    const externalAttributes = fixed.readUInt32LE(38);
    applyZip64(extra, sizes, fixed.readUInt16LE(34) === U16_MAX);

    const name = decodeName(nameBytes);
    const path = normalizeMemberPath(name);
    if (madeBy >> 8 === MADE_BY_UNIX && ((externalAttributes >>> 16) & S_IFMT) === S_IFLNK) {
      throw new SslmemError("archive_unsafe", `archive member ${quoteId(name)} is a symbolic link; the archive is refused`, {
        member: name,
      });
    }
    if (path.isDirectory) continue;
    if (flags & 0x41) throw invalid(`member ${quoteId(path.id)} is encrypted`);
    if (method !== 0 && method !== 8) {
      throw invalid(`member ${quoteId(path.id)} uses compression method ${method}; re-create the archive with deflate or store`);
    }
    if (method === 0 && sizes.c !== sizes.u) throw invalid(`stored member ${quoteId(path.id)} has inconsistent sizes`);
    if (seen.has(path.id)) {
      throw new SslmemError("archive_invalid", `archive member ${quoteId(path.id)} appears more than once`, { member: path.id });
    }
    seen.add(path.id);
    expanded += sizes.u;
    if (expanded > limits.maxExpandedBytes) {
      throw new SslmemError(
        "archive_too_large",
        `the archive's members add up to more than ${limits.maxExpandedBytes} bytes (maxExpandedBytes)`,
        { limit: limits.maxExpandedBytes },
      );
    }
    if (sizes.u > limits.ratioGraceBytes && sizes.u > limits.maxExpansionRatio * Math.max(sizes.c, 1)) {
      throw new SslmemError(
        "archive_too_large",
        `archive member ${quoteId(path.id)} expands more than ${limits.maxExpansionRatio}× (maxExpansionRatio); it looks like a decompression bomb`,
        { member: path.id, limit: limits.maxExpansionRatio },
      );
    }
    files.push({ id: path.id, nameBytes, method, crc, compressedSize: sizes.c, uncompressedSize: sizes.u, localOffset: sizes.off });
  }
  if (expanded > limits.ratioGraceBytes && expanded > limits.maxExpansionRatio * src.size) {
    throw new SslmemError(
      "archive_too_large",
      `the archive expands more than ${limits.maxExpansionRatio}× its size (maxExpansionRatio); it looks like a decompression bomb`,
      { limit: limits.maxExpansionRatio },
    );
  }
  return files;
}

/** First bytes of a member's content, enough to tell an image from anything else. */
async function memberHead(src: ByteSource, m: ZipMember): Promise<Buffer> {
  if (m.uncompressedSize === 0) return Buffer.alloc(0);
  if (m.method === 0) return src.read(m.dataOffset, Math.min(m.compressedSize, SNIFF_BYTES));
  // A prefix of the deflate stream inflates to a prefix of the member (≤ ~1 MiB from 1 KiB).
  const prefix = await src.read(m.dataOffset, Math.min(m.compressedSize, 1024));
  try {
    return inflateRawSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, SNIFF_BYTES);
  } catch (e) {
    throw new SslmemError("archive_invalid", `archive member ${quoteId(m.id)} has corrupt compressed data`, { member: m.id }, { cause: e });
  }
}

export async function indexZip(src: ByteSource, limits: IngestLimits, keep: KeepMember = keepImages): Promise<ArchiveIndex<ZipMember>> {
  const dir = await readDirectoryLocation(src);
  if (dir.entries > limits.maxArchiveEntries) {
    throw new SslmemError("archive_too_large", `the archive has more than ${limits.maxArchiveEntries} entries (maxArchiveEntries)`, {
      limit: limits.maxArchiveEntries,
    });
  }
  const files = await readCentralDirectory(src, dir, limits);
  const points: ZipMember[] = [];
  const skipped: SkippedEntry[] = [];
  const spans: [number, number][] = [];
  for (const f of files) {
    if (f.localOffset + LOCAL_BYTES + f.nameBytes.length > dir.offset) throw invalid(`member ${quoteId(f.id)} points outside the archive`);
    const local = await src.read(f.localOffset, LOCAL_BYTES + f.nameBytes.length);
    if (local.readUInt32LE(0) !== SIG_LOCAL) throw invalid(`the local header of member ${quoteId(f.id)} is corrupt`);
    // The name must agree with the central directory: tools that read local headers must see the same archive.
    if (!local.subarray(LOCAL_BYTES).equals(f.nameBytes) || local.readUInt16LE(26) !== f.nameBytes.length) {
      throw invalid(`the local header of member ${quoteId(f.id)} names a different file`);
    }
    const dataOffset = f.localOffset + LOCAL_BYTES + f.nameBytes.length + local.readUInt16LE(28);
    const end = dataOffset + f.compressedSize;
    if (end > dir.offset) throw invalid(`member ${quoteId(f.id)} extends past the end of the data (truncated)`);
    spans.push([f.localOffset, end]);
    const member: ZipMember = {
      id: f.id,
      dataOffset,
      compressedSize: f.compressedSize,
      uncompressedSize: f.uncompressedSize,
      method: f.method,
      crc: f.crc,
    };
    const head = await memberHead(src, member);
    if (keep(head, f.uncompressedSize)) {
      points.push(member);
      if (points.length > limits.maxPoints) throw tooManyPoints(limits);
    } else {
      skipped.push({ id: f.id, reason: skipReason(head, f.uncompressedSize) });
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new SslmemError("archive_unsafe", "the archive's members overlap (a zip-bomb construction); the archive is refused");
    }
  }
  return { points, skipped };
}

/** The uncompressed bytes of one member, size- and CRC-checked. */
export async function readZipMember(src: ByteSource, m: ZipMember, limits: IngestLimits): Promise<Buffer> {
  if (m.uncompressedSize > limits.maxFileBytes) throw imageFileTooLarge(m.id, m.uncompressedSize, limits.maxFileBytes);
  const raw = await src.read(m.dataOffset, m.compressedSize);
  let out: Buffer;
  if (m.method === 0) {
    out = raw;
  } else {
    try {
      out = await inflateRawAsync(raw, { maxOutputLength: Math.max(m.uncompressedSize, 1) });
    } catch (e) {
      const tooBig = (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new SslmemError(
        "archive_invalid",
        `archive member ${quoteId(m.id)} ${tooBig ? "expands beyond its declared size" : "has corrupt compressed data"}`,
        { member: m.id },
        { cause: e },
      );
    }
  }
  if (out.length !== m.uncompressedSize || crc32(out) !== m.crc) {
    throw new SslmemError("archive_invalid", `archive member ${quoteId(m.id)} is corrupt (size or CRC-32 mismatch)`, { member: m.id });
  }
  return out;
}
