/**
 * Immutable locator → content digest. Only locators that can never point at other bytes are
 * cached (an MLflow model version's file, a Hugging Face file at a commit sha), so an entry never
 * goes stale; with it a second audit of the same version downloads nothing. OCI and pinned URLs
 * need no entry: their digest is known before downloading.
 *
 * One file per entry under `<dir>/`, named by the sha256 of the locator, written by rename (an
 * entry is complete or absent). The blob store stays the truth: an entry whose blob was purged is
 * ignored by the caller.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface CachedResolution {
  digest: string;
  size: number;
  /** The file within the artifact that was chosen. */
  file?: string;
}

export interface ResolutionCache {
  get(locator: string): Promise<CachedResolution | undefined>;
  set(locator: string, value: CachedResolution): Promise<void>;
}

export class FileResolutionCache implements ResolutionCache {
  constructor(private readonly dir: string) {}

  #path(locator: string): string {
    return join(this.dir, `${createHash("sha256").update(locator).digest("hex")}.json`);
  }

  async get(locator: string): Promise<CachedResolution | undefined> {
    try {
      const entry = JSON.parse(await readFile(this.#path(locator), "utf8")) as { locator?: string } & Partial<CachedResolution>;
      if (entry.locator !== locator || typeof entry.digest !== "string" || typeof entry.size !== "number") return undefined;
      return { digest: entry.digest, size: entry.size, ...(typeof entry.file === "string" ? { file: entry.file } : {}) };
    } catch {
      return undefined; // absent or unreadable: resolve again
    }
  }

  async set(locator: string, value: CachedResolution): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = this.#path(locator);
    const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(tmp, JSON.stringify({ locator, ...value }));
    await rename(tmp, path);
  }
}
