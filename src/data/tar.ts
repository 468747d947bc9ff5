/**
 * Tar archives (ustar, GNU long names, pax path/size records) indexed in one pass over the
 * headers: members are stored uncompressed, so each point is just (offset, size) and is read
 * back by position on `load`. Links, devices and FIFOs refuse the archive (`archive_unsafe`),
 * as do unsafe names (see member-path.ts); duplicates and corruption are `archive_invalid`.
 */
import { SslmemError } from "../core/errors.ts";
import type { ByteSource } from "./byte-source.ts";
import { imageFileTooLarge } from "./image-decode.ts";
import type { IngestLimits } from "./limits.ts";
import { normalizeMemberPath } from "./member-path.ts";
import { quoteId } from "./point-id.ts";
import { tooManyPoints, type ArchiveIndex, type SkippedEntry } from "./point-set.ts";
import { keepImages, skipReason, type KeepMember } from "./sniff.ts";
import { TAR_BLOCK, isZeroBlock, parsePaxRecords, parseTarHeader, tarChecksumOk } from "./tar-header.ts";

export interface TarMember {
  readonly id: string;
  /** Position of the member's data in the tar. */
  readonly offset: number;
  readonly size: number;
}

/** Metadata records (pax headers, GNU long names) larger than this are not plausible. */
const MAX_META_BYTES = 1024 * 1024;
const REGULAR = new Set(["0", "\0", "7"]);
const UNSAFE: Record<string, string> = {
  "1": "is a hard link",
  "2": "is a symbolic link",
  "3": "is a character device",
  "4": "is a block device",
  "6": "is a FIFO",
};

export async function indexTar(src: ByteSource, limits: IngestLimits, keep: KeepMember = keepImages): Promise<ArchiveIndex<TarMember>> {
  const invalid = (why: string) => new SslmemError("archive_invalid", `the tar archive is invalid: ${why}`);
  const points: TarMember[] = [];
  const skipped: SkippedEntry[] = [];
  const seen = new Set<string>();
  let pos = 0;
  let entries = 0;
  let expanded = 0;
  let longName: string | null = null;
  let pax: Map<string, string> | null = null;

  // End of data without the two zero blocks is accepted, as GNU tar accepts it.
  while (pos < src.size) {
    if (pos + TAR_BLOCK > src.size) throw invalid("it ends inside a header block (truncated)");
    const chunk = await src.read(pos, Math.min(2 * TAR_BLOCK, src.size - pos));
    const header = chunk.subarray(0, TAR_BLOCK);
    if (isZeroBlock(header)) {
      if (longName !== null || pax !== null) throw invalid("it ends after an extended header (truncated)");
      break;
    }
    if (!tarChecksumOk(header)) throw invalid(`the header of entry #${entries + 1} is corrupt (checksum mismatch)`);
    entries++;
    if (entries > limits.maxArchiveEntries) {
      throw new SslmemError(
        "archive_too_large",
        `the archive has more than ${limits.maxArchiveEntries} entries (maxArchiveEntries)`,
        { limit: limits.maxArchiveEntries },
      );
    }
    const h = parseTarHeader(header);
    if (h === null) throw invalid(`the header of entry #${entries} has a malformed size`);
    const isMeta = h.type === "x" || h.type === "g" || h.type === "L" || h.type === "K";
    let size = h.size;
    if (!isMeta && pax?.has("size")) {
      const text = pax.get("size") ?? "";
      if (!/^[0-9]{1,16}$/.test(text)) throw invalid(`entry #${entries} has a malformed pax size`);
      size = Number(text);
    }
    const dataStart = pos + TAR_BLOCK;
    if (dataStart + size > src.size) throw invalid(`entry #${entries} extends past the end of the file (truncated)`);
    const next = dataStart + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    if (next > src.size) throw invalid(`entry #${entries} is not padded to a whole block (truncated)`);

    if (isMeta) {
      if (size > MAX_META_BYTES) throw invalid(`entry #${entries} has an implausibly large extended header`);
      if (h.type === "x") {
        pax = parsePaxRecords(await src.read(dataStart, size));
        if (pax === null) throw invalid(`entry #${entries} has a malformed pax header`);
      } else if (h.type === "L") {
        const data = await src.read(dataStart, size);
        const end = data.indexOf(0);
        longName = (end < 0 ? data : data.subarray(0, end)).toString("utf8");
      }
      // "g" (pax global) and "K" (GNU long link target) carry nothing a point needs.
      pos = next;
      continue;
    }

    const name = pax?.get("path") ?? longName ?? h.name;
    longName = null;
    pax = null;
    pos = next;
    const unsafe = UNSAFE[h.type];
    if (unsafe !== undefined) {
      throw new SslmemError("archive_unsafe", `archive member ${quoteId(name)} ${unsafe}; the archive is refused`, {
        member: name,
      });
    }
    const path = normalizeMemberPath(name);
    if (h.type === "5" || h.type === "V") continue; // folders and volume labels
    if (!REGULAR.has(h.type)) {
      throw invalid(`member ${quoteId(name)} has unsupported type ${JSON.stringify(h.type)}`);
    }
    if (path.isDirectory) continue;
    if (seen.has(path.id)) {
      throw new SslmemError("archive_invalid", `archive member ${quoteId(path.id)} appears more than once`, {
        member: path.id,
      });
    }
    seen.add(path.id);
    expanded += size;
    if (expanded > limits.maxExpandedBytes) {
      throw new SslmemError(
        "archive_too_large",
        `the archive's members add up to more than ${limits.maxExpandedBytes} bytes (maxExpandedBytes)`,
        { limit: limits.maxExpandedBytes },
      );
    }
    const head = chunk.subarray(TAR_BLOCK, TAR_BLOCK + Math.min(size, TAR_BLOCK));
    if (keep(head, size)) {
      points.push({ id: path.id, offset: dataStart, size });
      if (points.length > limits.maxPoints) throw tooManyPoints(limits);
    } else {
      skipped.push({ id: path.id, reason: skipReason(head, size) });
    }
  }
  return { points, skipped };
}

/** The bytes of one member; refuses members over maxFileBytes before reading them. */
export async function readTarMember(src: ByteSource, member: TarMember, limits: IngestLimits): Promise<Buffer> {
  if (member.size > limits.maxFileBytes) throw imageFileTooLarge(member.id, member.size, limits.maxFileBytes);
  return src.read(member.offset, member.size);
}
