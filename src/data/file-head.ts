/** The first bytes of a file, enough for sniff.ts to say what it is. */
import { open } from "node:fs/promises";
import { SNIFF_BYTES } from "./sniff.ts";

export async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
