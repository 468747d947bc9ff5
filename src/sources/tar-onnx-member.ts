/**
 * Finds the one *.onnx file in a tar (a KitOps model layer, a ModelPack `weight.v1.tar` layer).
 * Walks the headers only (ustar, GNU long names, pax paths) with the same header parser as the
 * candidate reader; the member's bytes are then streamed from their offset.
 */
import { SslmemError } from "../core/errors.ts";
import type { ByteSource } from "../data/byte-source.ts";
import { TAR_BLOCK, isZeroBlock, parsePaxRecords, parseTarHeader, tarChecksumOk } from "../data/tar-header.ts";

export interface TarFileEntry {
  name: string;
  offset: number;
  size: number;
}

const MAX_META_BYTES = 1024 * 1024;
const MAX_ENTRIES = 100_000;

export async function listTarFiles(src: ByteSource, what: string): Promise<TarFileEntry[]> {
  const invalid = (why: string) => new SslmemError("source_invalid", `${what} is not a valid tar: ${why}`);
  const files: TarFileEntry[] = [];
  let pos = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let paxSize: number | null = null;
  for (let entries = 0; pos + TAR_BLOCK <= src.size; entries++) {
    if (entries > MAX_ENTRIES) throw invalid(`more than ${MAX_ENTRIES} entries`);
    const header = await src.read(pos, TAR_BLOCK);
    if (isZeroBlock(header)) break;
    if (!tarChecksumOk(header)) throw invalid("a header is corrupt");
    const h = parseTarHeader(header);
    if (h === null) throw invalid("a header has a malformed size");
    const size = h.type === "x" || h.type === "L" ? h.size : (paxSize ?? h.size);
    const dataStart = pos + TAR_BLOCK;
    if (dataStart + size > src.size) throw invalid("it is truncated");
    pos = dataStart + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    if (h.type === "x" || h.type === "L") {
      if (size > MAX_META_BYTES) throw invalid("an extended header is implausibly large");
      const data = await src.read(dataStart, size);
      if (h.type === "L") longName = data.subarray(0, data.indexOf(0) < 0 ? data.length : data.indexOf(0)).toString("utf8");
      else {
        const pax = parsePaxRecords(data);
        if (pax === null) throw invalid("a pax header is malformed");
        paxPath = pax.get("path") ?? null;
        paxSize = pax.has("size") ? Number(pax.get("size")) : null;
      }
      continue;
    }
    const name = paxPath ?? longName ?? h.name;
    longName = paxPath = null;
    paxSize = null;
    if (h.type === "0" || h.type === "\0") files.push({ name, offset: dataStart, size });
  }
  return files;
}

export async function findOnnxMember(src: ByteSource, what: string): Promise<TarFileEntry> {
  const files = await listTarFiles(src, what);
  const onnx = files.filter((f) => f.name.toLowerCase().endsWith(".onnx"));
  if (onnx.length === 1) return onnx[0];
  const listing = files.map((f) => f.name).slice(0, 50).join(", ") || "nothing";
  if (onnx.length > 1) throw new SslmemError("source_ambiguous", `${what} holds ${onnx.length} .onnx files: ${onnx.map((f) => f.name).join(", ")}`);
  throw new SslmemError("source_not_found", `${what} holds no .onnx file; it holds: ${listing}`);
}
