/**
 * A client that never finishes its body: it writes chunks (chunked transfer encoding, no
 * Content-Length) until the server answers. If the answer comes, the server enforced its limit
 * while the body was streaming; if the client reaches `capBytes` first, the server was reading a
 * body it should have refused — the helper fails instead of sending forever.
 */
import { request as httpRequest } from "node:http";

export interface EndlessResult {
  status: number;
  contentType: string | null;
  text: string;
  /** Body bytes written before the response arrived. */
  bytesSent: number;
  /** Whether the client ever ended its body (it never does: proof the answer came mid-stream). */
  ended: boolean;
}

export interface EndlessOptions {
  method: string;
  headers: Record<string, string>;
  /** Bytes sent first (e.g. the start of a multipart body). */
  prefix?: Buffer;
  /** Filler repeated forever. */
  chunk: Buffer;
  /** Give up (and fail) after this many bytes without an answer. */
  capBytes: number;
  /** Pause between chunks (a slow client). */
  delayMs?: number;
  /**
   * Send the head alone and wait this long for an answer before the first body byte: for a limit
   * the server enforces from the head (a declared Content-Length). Without it, the server's close
   * after its answer can reach the client mid-write as a reset that drops the answer (EPIPE), a race
   * seen in about one full test run of four.
   */
  headWaitMs?: number;
}

export function sendEndless(url: string, options: EndlessOptions): Promise<EndlessResult> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    let bytesSent = 0;
    let answered = false;
    const req = httpRequest(
      { hostname: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method, headers: options.headers },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            contentType: (res.headers["content-type"] as string | undefined) ?? null,
            text: Buffer.concat(chunks).toString("utf8"),
            bytesSent,
            ended: false,
          });
        });
        res.on("error", reject);
      },
    );
    // Writes fail once the server has answered and closed: expected, the answer decides.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const pump = async () => {
      if (options.headWaitMs) {
        req.flushHeaders();
        const deadline = Date.now() + options.headWaitMs;
        while (!answered && !req.destroyed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      if (options.prefix) {
        bytesSent += options.prefix.length;
        req.write(options.prefix);
      }
      while (!answered && !req.destroyed) {
        if (bytesSent >= options.capBytes) {
          req.destroy();
          reject(new Error(`the server read ${bytesSent} bytes without answering; the limit is not enforced while streaming`));
          return;
        }
        bytesSent += options.chunk.length;
        const flushed = req.write(options.chunk);
        if (!flushed) {
          await new Promise<void>((r) => {
            const done = () => {
              req.off("drain", done).off("close", done);
              r();
            };
            req.on("drain", done).on("close", done);
          });
        }
        await new Promise((r) => (options.delayMs ? setTimeout(r, options.delayMs) : setImmediate(r)));
      }
    };
    pump().catch(reject);
  });
}
