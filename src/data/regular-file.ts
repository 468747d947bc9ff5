/**
 * Reading a point's file from a folder (directory.ts): what may be opened and what is read, in one
 * place, for both ways of reading — on libuv's threads (`readRegularFile`, the folder's sniffing
 * pass) and on a worker thread (`FileReader`, the audit's loads).
 *
 * Files are opened with O_NOFOLLOW | O_NONBLOCK, so neither a link nor a FIFO swapped in after the
 * folder was walked is followed or waited on; what was opened is stat'ed, and only a regular file
 * is read: its first `head` bytes, or all of it when it holds at most `maxBytes` (a larger one is
 * not read at all, its size is returned).
 *
 * Why a worker for the loads: onnxruntime-node runs a session on the main thread (its `run` is a
 * synchronous call), so the main thread does nothing else while a batch runs. A read through
 * `fs/promises` is four round trips to libuv's pool (open, stat, read, close), each resumed on the
 * main thread — one step a loop iteration while a run is queued — so a batch's reads mostly fell
 * between two runs, latency included. The worker reads a batch's files with synchronous calls
 * while the previous batch runs, and hands them over in one message. The fixture's audit (512
 * points, batches of 8; bench/ case files, this 2-core machine), with every pread made slower by
 * `strace -e inject=pread64:delay_enter=…` as on network storage: 2 ms — 63.5–64.6 ms a batch
 * reading through fs/promises, 60.3–60.6 ms with the worker; 5 ms — 71.9 against 61.8 ms (the
 * time between runs 14.7 against 3.8 ms). From this machine's page cache both measured alike
 * (59.7 against 60.5 ms under strace, five alternating plain runs 4 041–4 395 against 4 043–4 427
 * views/s).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { Worker } from "node:worker_threads";

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** What to read of a file: its first `head` bytes, or all of it if it holds at most `maxBytes`. */
export type ReadWanted = { head: number } | { maxBytes: number };

/**
 * What was opened: not a regular file (nothing read), or a regular file of `size` bytes with what
 * was read of it — null when the whole file was wanted and it holds more than `maxBytes`.
 */
export type RegularFileRead = { isFile: false } | { isFile: true; size: number; bytes: Uint8Array | null };

/** Reads `path` on libuv's pool. Rejects with the system error (its `code`, e.g. ENOENT, ELOOP). */
export async function readRegularFile(path: string, wanted: ReadWanted): Promise<RegularFileRead> {
  const handle = await open(path, OPEN_FLAGS);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { isFile: false };
    const length = "head" in wanted ? Math.min(wanted.head, stat.size) : stat.size <= wanted.maxBytes ? stat.size : -1;
    if (length < 0) return { isFile: true, size: stat.size, bytes: null };
    const bytes = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(bytes, filled, length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { isFile: true, size: stat.size, bytes: bytes.subarray(0, filled) };
  } finally {
    await handle.close();
  }
}

/**
 * The worker's code (CommonJS, evaluated: it loads nothing of this project, so it runs the same
 * from dist/ and under a TypeScript loader). Takes a list of whole-file requests, answers them in
 * one message, the bytes transferred (not copied). The same steps as readRegularFile with
 * `maxBytes`, in synchronous calls.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
parentPort.on("message", (requests) => {
  const replies = [];
  const transfer = [];
  for (const { id, path, flags, maxBytes } of requests) {
    let fd = -1;
    try {
      fd = fs.openSync(path, flags);
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        replies.push({ id, isFile: false });
        continue;
      }
      let bytes = null;
      if (stat.size <= maxBytes) {
        bytes = new Uint8Array(stat.size);
        let filled = 0;
        while (filled < bytes.length) {
          const n = fs.readSync(fd, bytes, filled, bytes.length - filled, filled);
          if (n === 0) break;
          filled += n;
        }
        if (filled < bytes.length) bytes = bytes.slice(0, filled);
        transfer.push(bytes.buffer);
      }
      replies.push({ id, isFile: true, size: stat.size, bytes });
    } catch (e) {
      replies.push({ id, code: e && typeof e.code === "string" ? e.code : "EIO" });
    } finally {
      if (fd >= 0) {
        try { fs.closeSync(fd); } catch {}
      }
    }
  }
  parentPort.postMessage(replies, transfer);
});
`;

interface WorkerRequest {
  id: number;
  path: string;
  flags: number;
  maxBytes: number;
}

type WorkerReply = { id: number; code: string } | ({ id: number } & RegularFileRead);

interface Pending {
  path: string;
  maxBytes: number;
  resolve: (read: RegularFileRead) => void;
  reject: (error: unknown) => void;
}

/** A system error as fs raises it: the message names the code, not the path. */
function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: the file could not be read`), { code });
}

/**
 * Whole-file reads (readRegularFile's `maxBytes`) on one worker thread, started on the first read.
 * The reads asked for in one turn of the event loop (a batch's, measure.ts) go in one message.
 * Should the worker fail (it cannot start, or ends), its reads and all later ones go through
 * readRegularFile instead. `close` ends the worker (reads still outstanding are refused); a read
 * after it starts another.
 */
export class FileReader {
  #worker: Worker | undefined;
  #failed = false;
  readonly #pending = new Map<number, Pending>();
  #queue: WorkerRequest[] = [];
  #nextId = 0;

  /** `workerSource`: the worker's code (tests give one that fails, to see the fallback). */
  constructor(private readonly workerSource: string = WORKER_SOURCE) {}

  read(path: string, maxBytes: number): Promise<RegularFileRead> {
    if (this.#failed) return readRegularFile(path, { maxBytes });
    return new Promise<RegularFileRead>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { path, maxBytes, resolve, reject });
      if (this.#queue.push({ id, path, flags: OPEN_FLAGS, maxBytes }) === 1) queueMicrotask(() => this.#flush());
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error("the file reader is closed"));
    this.#pending.clear();
    this.#queue = [];
    await worker?.terminate();
  }

  #flush(): void {
    const requests = this.#queue;
    this.#queue = [];
    if (requests.length === 0) return;
    if (this.#failed) return this.#readWithoutWorker(requests.map((r) => r.id));
    try {
      this.#worker ??= this.#start();
    } catch {
      this.#fail();
      return;
    }
    // Referenced while reads are outstanding (a read keeps the process alive), not when idle.
    this.#worker.ref();
    this.#worker.postMessage(requests);
  }

  #start(): Worker {
    const worker = new Worker(this.workerSource, { eval: true, stdout: false, stderr: false });
    worker.on("message", (replies: WorkerReply[]) => {
      for (const reply of replies) {
        const p = this.#pending.get(reply.id);
        if (!p) continue;
        this.#pending.delete(reply.id);
        if ("code" in reply) p.reject(systemError(reply.code));
        else p.resolve(reply.isFile ? { isFile: true, size: reply.size, bytes: reply.bytes } : { isFile: false });
      }
      if (this.#pending.size === 0) worker.unref();
    });
    // Ended by close (no longer this.#worker), or on its own: a failure.
    const failed = () => {
      if (this.#worker === worker) this.#fail();
    };
    worker.on("error", failed);
    worker.on("exit", failed);
    return worker;
  }

  /** The worker is gone: what it had not answered is read without it, as everything after. */
  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#worker = undefined;
    this.#readWithoutWorker([...this.#pending.keys()]);
  }

  #readWithoutWorker(ids: number[]): void {
    for (const id of ids) {
      const p = this.#pending.get(id);
      if (!p) continue;
      this.#pending.delete(id);
      readRegularFile(p.path, { maxBytes: p.maxBytes }).then(p.resolve, p.reject);
    }
  }
}
