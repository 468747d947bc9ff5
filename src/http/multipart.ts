/**
 * A streaming multipart/form-data reader (RFC 7578): parts are yielded one after another and each
 * part's body is an async iterable of chunks, so a multi-gigabyte candidate archive goes straight
 * to the blob store without being held in memory. Memory is bounded by the largest chunk plus the
 * boundary and the header limit.
 *
 * Contract: consume (or abandon) a part's body before asking for the next part; an unconsumed body
 * is skipped. Malformed input is a `validation_failed` error, never a crash.
 */
import { SslmemError } from "../core/errors.ts";

export interface MultipartLimits {
  /** Most parts accepted; one more is an error. */
  maxParts: number;
  /** Largest header block of one part, and largest preamble. */
  maxHeaderBytes: number;
}

export interface MultipartPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  body: AsyncIterable<Buffer>;
}

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

function malformed(why: string): SslmemError {
  return new SslmemError("validation_failed", `the multipart body is malformed: ${why}`);
}

/** The boundary parameter of a multipart/form-data Content-Type, or an error. */
export function multipartBoundary(contentType: string | undefined): string {
  const m = /^multipart\/form-data\s*;(.*)$/i.exec(contentType ?? "");
  const params = m ? parseParams(m[1]) : {};
  const boundary = params.boundary;
  // RFC 2046: 1–70 characters from a restricted set, not ending in a space.
  if (!boundary || !/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)) {
    throw new SslmemError("validation_failed", "a multipart/form-data Content-Type needs a valid boundary parameter");
  }
  return boundary;
}

/** `; a=b; c="d e"` → {a: "b", c: "d e"} (keys lower-cased). */
function parseParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /;?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const raw = m[2].trim();
    out[m[1].toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw;
  }
  return out;
}

/** Pull-based byte reader over an async iterable of chunks. */
class ByteReader {
  readonly #source: AsyncIterator<Uint8Array>;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const r = await this.#source.next();
    if (r.done) {
      this.#ended = true;
      return false;
    }
    if (r.value.byteLength > 0) {
      this.#buf = this.#buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([this.#buf, r.value]);
    }
    return true;
  }

  /** Ensures at least `n` buffered bytes; false at end of input. */
  async ensure(n: number): Promise<boolean> {
    while (this.#buf.length < n) if (!(await this.#fill())) return false;
    return true;
  }

  peek(n: number): Buffer {
    return this.#buf.subarray(0, n);
  }

  skip(n: number): void {
    this.#buf = this.#buf.subarray(n);
  }

  /** Bytes up to `delim` (consumed, not returned); error past `max` bytes or at end of input. */
  async readUntil(delim: Buffer, max: number, what: string): Promise<Buffer> {
    for (let from = 0; ; ) {
      const i = this.#buf.indexOf(delim, from);
      if (i > max) throw malformed(`${what} is longer than ${max} bytes`);
      if (i >= 0) {
        const out = Buffer.from(this.#buf.subarray(0, i));
        this.#buf = this.#buf.subarray(i + delim.length);
        return out;
      }
      if (this.#buf.length > max + delim.length) throw malformed(`${what} is longer than ${max} bytes`);
      from = Math.max(0, this.#buf.length - delim.length + 1);
      if (!(await this.#fill())) throw malformed(`the body ended inside ${what}`);
    }
  }

  /** Yields the bytes before `delim` as they arrive, then consumes `delim`. */
  async *streamUntil(delim: Buffer): AsyncGenerator<Buffer> {
    for (;;) {
      const i = this.#buf.indexOf(delim);
      if (i >= 0) {
        const chunk = this.#buf.subarray(0, i);
        this.#buf = this.#buf.subarray(i + delim.length);
        if (chunk.length > 0) yield chunk;
        return;
      }
      // Everything but a possible partial delimiter at the end is part data.
      const safe = this.#buf.length - (delim.length - 1);
      if (safe > 0) {
        const chunk = this.#buf.subarray(0, safe);
        this.#buf = this.#buf.subarray(safe);
        yield chunk;
      }
      if (!(await this.#fill())) throw malformed("the body ended inside a part (no closing boundary)");
    }
  }

  async close(): Promise<void> {
    await this.#source.return?.();
  }
}

function parsePartHeaders(block: Buffer): { name: string; filename: string | null; contentType: string | null } {
  const headers = new Map<string, string>();
  const text = block.toString("utf8");
  for (const line of text.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed("a part header line has no name");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get("content-disposition");
  const m = disposition ? /^form-data\s*(;.*)?$/i.exec(disposition) : null;
  if (!m) throw malformed("every part needs `Content-Disposition: form-data; name=…`");
  const params = parseParams(m[1] ?? "");
  if (!params.name) throw malformed("a part has no name");
  return { name: params.name, filename: params.filename ?? null, contentType: headers.get("content-type") ?? null };
}

/** Reads the parts of a multipart/form-data body in order. */
export async function* readMultipart(
  source: AsyncIterable<Uint8Array>,
  boundary: string,
  limits: MultipartLimits,
): AsyncGenerator<MultipartPart> {
  const reader = new ByteReader(source);
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.concat([CRLF, dashBoundary]);
  try {
    // Preamble: anything before the first boundary line (normally nothing).
    await reader.readUntil(dashBoundary, limits.maxHeaderBytes, "the preamble");
    for (let count = 0; ; count++) {
      if (!(await reader.ensure(2))) throw malformed("the body ended after a boundary");
      const after = reader.peek(2).toString("latin1");
      if (after === "--") return; // close delimiter; the epilogue is ignored
      // Transport padding (spaces/tabs) may precede the CRLF that ends a boundary line.
      const line = await reader.readUntil(CRLF, 256, "a boundary line");
      if (!/^[ \t]*$/.test(line.toString("latin1"))) throw malformed("unexpected bytes after a boundary");
      if (count >= limits.maxParts) throw malformed(`more than ${limits.maxParts} parts`);
      let headerBlock: Buffer;
      if ((await reader.ensure(2)) && reader.peek(2).equals(CRLF)) {
        reader.skip(2);
        headerBlock = Buffer.alloc(0);
      } else {
        headerBlock = await reader.readUntil(HEADER_END, limits.maxHeaderBytes, "a part's headers");
      }
      const headers = parsePartHeaders(headerBlock);
      let finished = false;
      let started = false;
      const body = async function* (): AsyncGenerator<Buffer> {
        yield* reader.streamUntil(delimiter);
        finished = true;
      };
      const partBody: AsyncIterable<Buffer> = {
        [Symbol.asyncIterator]: () => {
          if (started) throw new SslmemError("internal", "a multipart part body can be read once");
          started = true;
          return body();
        },
      };
      yield { ...headers, body: partBody };
      // Skip what the consumer did not read (streamUntil never consumes a partial delimiter, so a
      // fresh scan from here finds the end of this part).
      if (!finished) for await (const _ of reader.streamUntil(delimiter)) void _;
    }
  } finally {
    await reader.close();
  }
}
