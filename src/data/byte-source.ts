/**
 * Random access to the bytes of one file. Readers (tar, zip, npy) work on this interface, not on
 * paths, so they serve uploaded blobs as well as CLI arguments, and no path reaches their errors.
 */
import { open, type FileHandle } from "node:fs/promises";
import { SslmemError } from "../core/errors.ts";

export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `position`; throws `archive_invalid` if the file ends first. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, "r");
  try {
    const stat = await handle.stat();
    return new FileSource(handle, stat.size);
  } catch (e) {
    await handle.close();
    throw e;
  }
}

class FileSource implements ByteSource {
  private closed = false;
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    if (this.closed) throw new Error("read after close");
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(out, filled, length - filled, position + filled);
      if (bytesRead === 0) {
        throw new SslmemError("archive_invalid", "the file ended early: it is truncated or changed while being read");
      }
      filled += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
