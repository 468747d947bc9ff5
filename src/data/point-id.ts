/**
 * Point ids in user-facing messages. Ids come from file and member names, which an uploader
 * controls: quote them (so control characters and quotes are escaped) and cap their length, so a
 * message stays one readable line whatever the archive contains.
 */
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
