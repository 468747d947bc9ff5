/**
 * Point ids in user-facing messages. Ids come from file and member names, which an uploader
 * controls: quote them (so control characters and quotes are escaped) and cap their length, so a
 * message stays one readable line whatever the archive contains.
 */
import { SslmemError } from "../core/errors.ts";
import type { IngestLimits } from "./limits.ts";

const MAX_SHOWN = 200;

export function quoteId(id: string): string {
  const shown = id.length > MAX_SHOWN ? `${id.slice(0, MAX_SHOWN)}…` : id;
  return JSON.stringify(shown);
}

/** Member and file names as text: UTF-8 when valid, else Latin-1 (old tar/zip tools wrote raw bytes). */
export function decodeName(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  }
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Refuses a set holding an id (point or skipped member) longer than `maxPointIdBytes` of UTF-8
 * (`point_id_too_long`, naming the member). Ids are copied into every audit resource, list page,
 * report and result row: a 1 MB tar path must not become a 1 MB id.
 */
export function checkPointIdLengths(
  set: { readonly ids: readonly string[]; readonly skipped: readonly { readonly id: string }[] },
  limits: Pick<IngestLimits, "maxPointIdBytes">,
): void {
  const limit = limits.maxPointIdBytes;
  const check = (id: string) => {
    // A UTF-8 character takes at most 4 bytes: only long strings need counting.
    if (id.length * 4 <= limit) return;
    const bytes = Buffer.byteLength(id, "utf8");
    if (bytes <= limit) return;
    throw new SslmemError(
      "point_id_too_long",
      `the member ${quoteId(id)} has a name of ${bytes} bytes; point ids are at most ${limit} bytes (maxPointIdBytes): shorten the file name`,
      { member: id.slice(0, MAX_SHOWN), bytes, limit },
    );
  };
  for (const id of set.ids) check(id);
  for (const s of set.skipped) check(s.id);
}
