/**
 * "Nothing stored changed": a snapshot of everything the service persists — every row of every
 * SQLite table (read through a second, read-only connection), the blob files, and the temporary
 * folders — and the two comparisons the suite needs: identical (a refused request), or only rows
 * and blobs of the audits and uploads the case itself made (an accepted request).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import Database from "better-sqlite3";

/** Tables and the columns that identify a row. health_probe is the readiness probe's scratch row. */
const TABLES: Record<string, string[]> = {
  tokens: ["id"],
  audits: ["id"],
  audit_blobs: ["audit_id", "role"],
  blobs: ["tenant", "digest"],
  audit_results: ["audit_id", "idx"],
  audit_events: ["audit_id", "seq"],
};

export interface Snapshot {
  /** table → row key → the row as JSON (BLOB columns hex-encoded). */
  rows: Record<string, Map<string, string>>;
  /** sha256/ab/cdef… → size */
  blobFiles: Map<string, number>;
  /** Files left in blobs/tmp (partial uploads) and tmp/ (engine scratch: extracted .tar.gz). */
  tempFiles: string[];
}

function listFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

function rowJson(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("hex") : v));
}

export function takeSnapshot(dataDir: string): Snapshot {
  const db = new Database(join(dataDir, "sslmem.db"), { readonly: true, fileMustExist: true });
  const rows: Snapshot["rows"] = {};
  try {
    for (const [table, keys] of Object.entries(TABLES)) {
      const map = new Map<string, string>();
      for (const row of db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[]) {
        map.set(keys.map((k) => String(row[k])).join("|"), rowJson(row));
      }
      rows[table] = map;
    }
  } finally {
    db.close();
  }
  const blobRoot = join(dataDir, "blobs");
  const blobFiles = new Map<string, number>();
  for (const f of listFiles(join(blobRoot, "sha256"))) blobFiles.set(f, statSync(join(blobRoot, "sha256", f)).size);
  const tempFiles = [
    ...listFiles(join(blobRoot, "tmp")).map((f) => `blobs/tmp/${f}`),
    ...listFiles(join(dataDir, "tmp")).map((f) => `tmp/${f}`),
  ];
  return { rows, blobFiles, tempFiles };
}

const digestOfFile = (f: string) => `sha256:${f.replace(/\//g, "")}`;

/** A refused request: not one row, blob or temporary file differs. */
export function assertUnchanged(before: Snapshot, after: Snapshot, label: string): void {
  for (const table of Object.keys(TABLES)) {
    assert.deepEqual([...after.rows[table]], [...before.rows[table]], `${label}: table ${table} changed`);
  }
  assert.deepEqual([...after.blobFiles], [...before.blobFiles], `${label}: the blob directory changed`);
  assert.deepEqual(after.tempFiles, [], `${label}: temporary files were left behind`);
}

/**
 * An accepted request: every earlier row and blob is still there, byte for byte; new rows belong
 * to the case's own audits (or record its own uploads); no temporary file is left.
 */
export function assertOnlyOwnAdditions(
  before: Snapshot,
  after: Snapshot,
  own: { audits: ReadonlySet<string>; digests: ReadonlySet<string> },
  label: string,
): void {
  for (const [table, rows] of Object.entries(before.rows)) {
    for (const [key, json] of rows) {
      assert.equal(after.rows[table].get(key), json, `${label}: ${table} row ${key} was changed or deleted`);
    }
    for (const [key, json] of after.rows[table]) {
      if (rows.has(key)) continue;
      const row = JSON.parse(json) as Record<string, unknown>;
      const ok =
        table === "audits"
          ? own.audits.has(String(row.id))
          : table === "blobs"
            ? own.digests.has(String(row.digest))
            : table === "tokens"
              ? false
              : own.audits.has(String(row.audit_id));
      assert.ok(ok, `${label}: unexpected new ${table} row ${key}`);
    }
  }
  for (const [file, size] of before.blobFiles) assert.equal(after.blobFiles.get(file), size, `${label}: blob ${file} changed`);
  for (const file of after.blobFiles.keys()) {
    if (!before.blobFiles.has(file)) assert.ok(own.digests.has(digestOfFile(file)), `${label}: unexpected new blob ${file}`);
  }
  assert.deepEqual(after.tempFiles, [], `${label}: temporary files were left behind`);
}
