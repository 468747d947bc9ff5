/**
 * A small tar writer for tests: ustar headers (with the name prefix), GNU long names ("L"),
 * pax extended headers ("x"), any type flag. Enough to build both valid and hostile archives.
 */
import { gzipSync } from "node:zlib";

export interface TarEntry {
  name: string;
  data?: Uint8Array;
  /** Type flag, default "0" (regular file). */
  type?: string;
  linkName?: string;
  /** How a name longer than 100 bytes is written (default: ustar prefix). */
  longName?: "prefix" | "gnu" | "pax";
  /** Extra pax records for this entry (written as an "x" header before it). */
  pax?: Record<string, string>;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

export function tarHeader(fields: { name: string; prefix?: string; size: number; type: string; linkName?: string; gnu?: boolean }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(fields.name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(1000, 8), 108, "latin1");
  h.write(octal(1000, 8), 116, "latin1");
  h.write(octal(fields.size, 12), 124, "latin1");
  h.write(octal(1_700_000_000, 12), 136, "latin1");
  h.write(fields.type, 156, "latin1");
  h.write(fields.linkName ?? "", 157, 100, "utf8");
  h.write(fields.gnu ? "ustar  \0" : "ustar\u000000", 257, "latin1");
  h.write("user", 265, "latin1");
  h.write("group", 297, "latin1");
  if (fields.prefix) h.write(fields.prefix, 345, 155, "utf8");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "latin1");
  return h;
}

function padded(data: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

function paxData(records: Record<string, string>): Buffer {
  const parts = Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    return Buffer.from(`${len}${body}`, "utf8");
  });
  return Buffer.concat(parts);
}

export function tarEntryBlocks(e: TarEntry): Buffer {
  const data = e.data ?? new Uint8Array(0);
  const type = e.type ?? "0";
  const parts: Buffer[] = [];
  let name = e.name;
  let prefix: string | undefined;
  const pax: Record<string, string> = { ...e.pax };
  if (Buffer.byteLength(e.name) > 100) {
    const mode = e.longName ?? "prefix";
    if (mode === "gnu") {
      const long = Buffer.from(`${e.name}\0`, "utf8");
      parts.push(tarHeader({ name: "././@LongLink", size: long.length, type: "L", gnu: true }), padded(long));
      name = e.name.slice(0, 100);
    } else if (mode === "pax") {
      pax.path = e.name;
      name = "truncated-by-pax";
    } else {
      const cut = e.name.lastIndexOf("/", 155);
      prefix = e.name.slice(0, cut);
      name = e.name.slice(cut + 1);
    }
  }
  if (Object.keys(pax).length > 0) {
    const records = paxData(pax);
    parts.push(tarHeader({ name: "PaxHeader/x", size: records.length, type: "x" }), padded(records));
  }
  parts.push(tarHeader({ name, prefix, size: data.length, type, linkName: e.linkName }), padded(data));
  return Buffer.concat(parts);
}

export function writeTar(entries: TarEntry[], opts: { endBlocks?: boolean } = {}): Buffer {
  const end = opts.endBlocks === false ? [] : [Buffer.alloc(2 * BLOCK)];
  return Buffer.concat([...entries.map(tarEntryBlocks), ...end]);
}

export function writeTarGz(entries: TarEntry[]): Buffer {
  return gzipSync(writeTar(entries));
}
