/**
 * The layout of SSLMEM_DATA_DIR, built in this one place: the SQLite file (embedded mode), the
 * content-addressed blob directory (shared by the API and the workers) and the scratch directory
 * where archives are expanded while an audit runs.
 */
import { join, resolve } from "node:path";

export const DATABASE_FILE = "sslmem.db";
export const BLOB_DIR = "blobs";
export const TMP_DIR = "tmp";

export interface DataDirLayout {
  root: string;
  database: string;
  blobs: string;
  tmp: string;
}

export function dataDirLayout(dataDir: string): DataDirLayout {
  const root = resolve(dataDir);
  return { root, database: join(root, DATABASE_FILE), blobs: join(root, BLOB_DIR), tmp: join(root, TMP_DIR) };
}
