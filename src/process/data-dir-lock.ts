/**
 * Process hygiene of the embedded data directory (SQLite file, blobs, engine scratch space).
 *
 * One process owns it: two servers on one directory would both resume and run the same audits
 * and write one SQLite file from two job runners. The lock is an exclusive SQLite lock on
 * `sslmem.lock` (an fcntl lock held by the open connection), so the kernel releases it when the
 * process dies, however it dies: no stale lock file to clean up after a kill.
 *
 * Owning the directory also means that every scratch file in it is a leftover of a previous run
 * (an expanded .tar.gz of an audit that was killed, a torn upload's `.part`): they are removed
 * at start instead of waiting for an age-based sweep.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SslmemError } from "../core/errors.ts";
import { dataDirLayout } from "../store/data-dir.ts";

export const LOCK_FILE = "sslmem.lock";

export interface DataDirLock {
  release(): void;
}

/** Takes the exclusive lock of `dataDir`, or throws `unavailable` naming the directory. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // The first write takes the exclusive lock; in this mode it is kept until the connection closes.
    db.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); DELETE FROM owner; COMMIT;");
    db.prepare("INSERT INTO owner (pid) VALUES (?)").run(process.pid);
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === "SQLITE_BUSY") {
      throw new SslmemError(
        "unavailable",
        `the data directory ${dataDir} is in use by another sslmem process; stop it, or give this one its own SSLMEM_DATA_DIR`,
        undefined,
        { cause: e },
      );
    }
    throw e;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}

/** Removes what a previous run left in the engine's scratch directory; returns how many entries. */
export function clearEngineScratch(dataDir: string): number {
  const dir = dataDirLayout(dataDir).tmp;
  mkdirSync(dir, { recursive: true });
  let removed = 0;
  for (const name of readdirSync(dir)) {
    rmSync(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
