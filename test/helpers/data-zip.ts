/**
 * A zip writer for tests: stored and deflate members, optional data descriptors and zip64
 * records, and knobs to write the lies hostile archives tell (sizes, CRCs, modes, flags).
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../../src/data/crc32.ts";

export interface ZipEntry {
  name: string;
  data?: Uint8Array;
  /** 0 stored, 8 deflate (default); other numbers are written as-is for "unsupported" tests. */
  method?: number;
  /** Unix symlink: mode 0o120777 in the external attributes, "made by" Unix. */
  symlink?: boolean;
  /** General-purpose flags (bit 0 = encrypted). */
  flags?: number;
  /** Declared uncompressed size / CRC, when a test wants them to lie. */
  declaredSize?: number;
  declaredCrc?: number;
  /** Sizes and CRC in a data descriptor after the data (flag bit 3), zeros in the local header. */
  dataDescriptor?: boolean;
}

export interface ZipMemberBytes {
  /** Local header + data (+ descriptor), to be placed at `offset`. */
  local: Buffer;
  /** Central directory record for it, given the offset of its local header. */
  central(offset: number, zip64?: boolean): Buffer;
}

export function zipMember(e: ZipEntry): ZipMemberBytes {
  const data = Buffer.from(e.data ?? new Uint8Array(0));
  const method = e.method ?? 8;
  const body = method === 8 ? deflateRawSync(data) : data;
  const crc = e.declaredCrc ?? crc32(data);
  const usize = e.declaredSize ?? data.length;
  const name = Buffer.from(e.name, "utf8");
  const flags = (e.flags ?? 0) | 0x0800 | (e.dataDescriptor ? 0x0008 : 0);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(flags, 6);
  local.writeUInt16LE(method, 8);
  if (!e.dataDescriptor) {
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(usize, 22);
  }
  local.writeUInt16LE(name.length, 26);
  const descriptor = Buffer.alloc(e.dataDescriptor ? 16 : 0);
  if (e.dataDescriptor) {
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(body.length, 8);
    descriptor.writeUInt32LE(usize, 12);
  }
  return {
    local: Buffer.concat([local, name, body, descriptor]),
    central(offset: number, zip64 = false) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
      c.writeUInt16LE(zip64 ? 45 : 20, 6);
      c.writeUInt16LE(flags, 8);
      c.writeUInt16LE(method, 10);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(zip64 ? 0xffffffff : body.length, 20);
      c.writeUInt32LE(zip64 ? 0xffffffff : usize, 24);
      c.writeUInt16LE(name.length, 28);
      const extra = Buffer.alloc(zip64 ? 28 : 0);
      if (zip64) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(24, 2);
        extra.writeBigUInt64LE(BigInt(usize), 4);
        extra.writeBigUInt64LE(BigInt(body.length), 12);
        extra.writeBigUInt64LE(BigInt(offset), 20);
      }
      c.writeUInt16LE(extra.length, 30);
      const mode = e.symlink ? 0o120777 : 0o100644;
      c.writeUInt32LE((mode << 16) >>> 0, 38);
      c.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
      return Buffer.concat([c, name, extra]);
    },
  };
}

/** The end records for a central directory of `count` entries at [offset, offset+size). */
export function zipEnd(count: number, offset: number, size: number, zip64 = false): Buffer {
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : count, 8);
  eocd.writeUInt16LE(zip64 ? 0xffff : count, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : size, 12);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  if (!zip64) return eocd;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(size), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + size), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator, eocd]);
}

export function writeZip(entries: ZipEntry[], opts: { zip64?: boolean } = {}): Buffer {
  const members = entries.map(zipMember);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    centrals.push(m.central(offset, opts.zip64));
    locals.push(m.local);
    offset += m.local.length;
  }
  const directory = Buffer.concat(centrals);
  return Buffer.concat([...locals, directory, zipEnd(members.length, offset, directory.length, opts.zip64)]);
}
