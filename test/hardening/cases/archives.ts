/**
 * Hostile candidate (and control) archives through the real engine: traversal, links, bombs,
 * entry floods, duplicates, lies in headers, unsupported containers, and the members that are
 * skipped and counted instead of refused (non-images, nested archives).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { writeNpy } from "../../helpers/data-npy.ts";
import { tarHeader, writeTarGz } from "../../helpers/data-tar.ts";
import { writeZip, zipEnd, zipMember } from "../../helpers/data-zip.ts";
import { HARDENING_LIMITS } from "../support/server.ts";
import { noisePng, tarOf, tarWithValid } from "./inputs.ts";
import type { CaseContext, HostileCase } from "./types.ts";

const MiB = 1024 * 1024;
const png = (seed = 3) => noisePng(12, 12, seed);
const withCandidates = (build: () => Buffer | Promise<Buffer>) => async (ctx: CaseContext) => ctx.audit({ candidates: await build() });
const zipWithValid = (...entries: Parameters<typeof writeZip>[0]) => writeZip([{ name: "ok.png", data: png(1) }, ...entries]);

/**
 * The zip-bomb construction that shares data between members: member a's stored data *is*
 * member b's local header and data, so the two byte ranges overlap.
 */
function overlappingZip(): Buffer {
  const inner = zipMember({ name: "b.png", data: png(4), method: 0 });
  const outer = zipMember({ name: "a.png", data: inner.local, method: 0 });
  const innerOffset = 30 + "a.png".length;
  const directory = Buffer.concat([outer.central(0), inner.central(innerOffset)]);
  return Buffer.concat([outer.local, directory, zipEnd(2, outer.local.length, directory.length)]);
}

/** A .npy header with any descr/shape and a little data (the reader must refuse before reading it). */
const npy = (descr: string, shape: number[]) => writeNpy({ descr, shape, data: new Uint8Array(64) });

export const ARCHIVE_CASES: HostileCase[] = [
  // ---- traversal and links: the whole archive is refused ----
  {
    id: "A01",
    category: "archive",
    input: "tar member ../x.png",
    layer: "ingest: member names (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "../x.png", data: png() })),
  },
  {
    id: "A02",
    category: "archive",
    input: "tar member /etc/cron.d/x.png (absolute)",
    layer: "ingest: member names (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "/etc/cron.d/x.png", data: png() })),
  },
  {
    id: "A03",
    category: "archive",
    input: "tar member a\\..\\..\\x.png (Windows separators)",
    layer: "ingest: member names (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "a\\..\\..\\x.png", data: png() })),
  },
  {
    id: "A04",
    category: "archive",
    input: "tar member with a harmless header name overridden by a pax path=../../x.png",
    layer: "ingest: member names (pax)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "fine.png", data: png(), pax: { path: "../../x.png" } })),
  },
  {
    id: "A05",
    category: "archive",
    input: "tar GNU long name (150 chars) ending in /../../../x.png",
    layer: "ingest: member names (GNU long name)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: `${"d".repeat(130)}/../../../x.png`, data: png(), longName: "gnu" })),
  },
  {
    id: "A06",
    category: "archive",
    input: "tar symlink x.png → /etc/passwd",
    layer: "ingest: member types (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "x.png", type: "2", linkName: "/etc/passwd" })),
  },
  {
    id: "A07",
    category: "archive",
    input: "tar hard link x.png → ../../etc/shadow",
    layer: "ingest: member types (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "x.png", type: "1", linkName: "../../etc/shadow" })),
  },
  {
    id: "A08",
    category: "archive",
    input: "tar character device and FIFO members",
    layer: "ingest: member types (tar)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => tarWithValid({ name: "dev/zero", type: "3" }, { name: "pipe", type: "6" })),
  },
  {
    id: "A09",
    category: "archive",
    input: "zip member ../../x.png",
    layer: "ingest: member names (zip)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => zipWithValid({ name: "../../x.png", data: png() })),
  },
  {
    id: "A10",
    category: "archive",
    input: "zip member /tmp/x.png (absolute) and C:\\x.png (drive letter)",
    layer: "ingest: member names (zip)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => zipWithValid({ name: "/tmp/x.png", data: png() }, { name: "C:\\x.png", data: png(5) })),
  },
  {
    id: "A11",
    category: "archive",
    input: "zip member that is a Unix symlink (mode 0120777) to /etc/passwd",
    layer: "ingest: member types (zip)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => zipWithValid({ name: "x.png", data: Buffer.from("/etc/passwd"), symlink: true })),
  },
  {
    id: "A12",
    category: "archive",
    input: "zip whose members overlap (member a's data is member b)",
    layer: "ingest: zip index (overlap check)",
    expect: { kind: "failed", code: "archive_unsafe" },
    run: withCandidates(() => overlappingZip()),
  },
  {
    id: "A13",
    category: "archive",
    input: "controls archive with a ../ member (candidates valid)",
    layer: "ingest: member names, controls",
    expect: { kind: "failed", code: "archive_unsafe" },
    detail: /^controls: /,
    checks: 'detail starts with "controls:"',
    run: (ctx) => ctx.audit({ controls: tarWithValid({ name: "../escape.png", data: png() }) }),
  },
  {
    id: "A38",
    category: "archive",
    input: "tar member whose pax path is 60000 characters ending in /../x.png",
    layer: "ingest: member names (pax); message length capped",
    expect: { kind: "failed", code: "archive_unsafe" },
    detail: (detail) => assert.ok(detail.length < 1000, `the detail stays short: ${detail.length} characters`),
    checks: "the detail stays under 1000 characters",
    run: withCandidates(() => tarWithValid({ name: "fine.png", data: png(), pax: { path: `${"a/".repeat(30_000)}../x.png` } })),
  },
  // ---- bombs and floods ----
  {
    id: "A14",
    category: "archive",
    input: "zip bomb by ratio: one 24 MiB member of zeros deflated to ~24 KiB",
    layer: "ingest: zip index, declared sizes (maxExpansionRatio), nothing inflated",
    expect: { kind: "failed", code: "archive_too_large" },
    detail: /maxExpansionRatio/,
    checks: "detail names maxExpansionRatio",
    run: withCandidates(() => zipWithValid({ name: "zeros.png", data: Buffer.alloc(24 * MiB) })),
  },
  {
    id: "A15",
    category: "archive",
    input: "zip bomb by total size: 3 members declaring 3 GiB each (9 GiB > 8 GiB maxExpandedBytes), honest ratio declared",
    layer: "ingest: zip index, declared sizes (maxExpandedBytes)",
    expect: { kind: "failed", code: "archive_too_large" },
    detail: /maxExpandedBytes/,
    checks: "detail names maxExpandedBytes",
    run: withCandidates(() => {
      const zip = writeZip([0, 1, 2].map((i) => ({ name: `big-${i}.png`, data: png(i), declaredSize: 3 * 1024 * MiB })));
      // Declare a compressed size that makes each member's own ratio plausible (≤ 200×).
      for (let at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at >= 0; at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4)) {
        zip.writeUInt32LE(20 * MiB, at + 20);
      }
      return zip;
    }),
  },
  {
    id: "A16",
    category: "archive",
    input: "tar.gz bomb: 24 MiB of zeros gzipped to ~24 KiB",
    layer: "ingest: gunzip, ratio checked while streaming",
    expect: { kind: "failed", code: "archive_too_large" },
    detail: /maxExpansionRatio/,
    checks: "detail names maxExpansionRatio; no extracted file left in the engine's tmp dir",
    run: withCandidates(() => writeTarGz([{ name: "ok.png", data: png(1) }, { name: "zeros.bin", data: Buffer.alloc(24 * MiB) }])),
  },
  {
    id: "A17",
    category: "archive",
    input: `tar with ${HARDENING_LIMITS.maxArchiveEntries + 1} entries (limit ${HARDENING_LIMITS.maxArchiveEntries})`,
    layer: "ingest: tar index (maxArchiveEntries)",
    expect: { kind: "failed", code: "archive_too_large" },
    run: withCandidates(() => tarOf(Array.from({ length: HARDENING_LIMITS.maxArchiveEntries + 1 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from("x") })))),
  },
  {
    id: "A18",
    category: "archive",
    input: `zip with ${HARDENING_LIMITS.maxArchiveEntries + 1} entries`,
    layer: "ingest: zip end record (maxArchiveEntries), before the directory is read",
    expect: { kind: "failed", code: "archive_too_large" },
    run: withCandidates(() => writeZip(Array.from({ length: HARDENING_LIMITS.maxArchiveEntries + 1 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from("x") })))),
  },
  {
    id: "A19",
    category: "archive",
    input: "zip member whose inflated data is longer than its declared size",
    layer: "ingest: inflate bounded by the declared size, at load",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => zipWithValid({ name: "liar.png", data: Buffer.concat([png(6), Buffer.alloc(4096)]), declaredSize: 200 })),
  },
  // ---- duplicates and corruption ----
  {
    id: "A20",
    category: "archive",
    input: "tar with the same member name twice",
    layer: "ingest: tar index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => tarWithValid({ name: "dup.png", data: png(2) }, { name: "dup.png", data: png(3) })),
  },
  {
    id: "A21",
    category: "archive",
    input: "zip with a/./x.png and a/x.png (duplicates after normalization)",
    layer: "ingest: zip index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => zipWithValid({ name: "a/./x.png", data: png(2) }, { name: "a/x.png", data: png(3) })),
  },
  {
    id: "A22",
    category: "archive",
    input: "tar cut in the middle of a member",
    layer: "ingest: tar index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => {
      const tar = tarWithValid({ name: "b.png", data: noisePng(40, 40, 2) });
      return tar.subarray(0, 512 * 3 + 100);
    }),
  },
  {
    id: "A23",
    category: "archive",
    input: "tar whose second header has a wrong checksum",
    layer: "ingest: tar index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => {
      const first = tarOf([{ name: "ok.png", data: png(1) }], { endBlocks: false });
      const bad = tarHeader({ name: "b.png", size: 0, type: "0" });
      bad[0] ^= 0x20;
      return Buffer.concat([first, bad, Buffer.alloc(1024)]);
    }),
  },
  {
    id: "A24",
    category: "archive",
    input: "zip member with a wrong CRC-32",
    layer: "ingest: CRC check at load",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => zipWithValid({ name: "crc.png", data: png(7), declaredCrc: 0xdeadbeef })),
  },
  {
    id: "A25",
    category: "archive",
    input: "zip member flagged encrypted",
    layer: "ingest: zip index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => zipWithValid({ name: "secret.png", data: png(8), flags: 0x1 })),
  },
  {
    id: "A26",
    category: "archive",
    input: "zip member compressed with bzip2 (method 12)",
    layer: "ingest: zip index",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => zipWithValid({ name: "b.png", data: png(9), method: 12 })),
  },
  {
    id: "A27",
    category: "archive",
    input: "7z, RAR and bzip2 containers; random bytes",
    layer: "ingest: open (sniffing)",
    expect: { kind: "failed", code: "archive_invalid" },
    checks: "each of the four is refused the same way (the case submits all four)",
    run: async (ctx) => {
      const heads = [
        Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]),
        Buffer.from("Rar!\x1a\x07\x01\x00", "latin1"),
        Buffer.from("BZh91AY&SY"),
      ];
      for (const head of heads) {
        const res = await ctx.audit({ candidates: Buffer.concat([head, Buffer.alloc(600, 1)]) });
        const other = await ctx.waitFinished(res.json.id);
        assert.equal(other.error?.code, "archive_invalid", `${head.subarray(0, 3).toString("hex")}: ${JSON.stringify(other.error)}`);
      }
      return ctx.audit({ candidates: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251)) });
    },
  },
  {
    id: "A28",
    category: "archive",
    input: "gzip file whose content is not a tar",
    layer: "ingest: gunzip then sniff",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => gzipSync(Buffer.from("just some text, not a tar archive\n".repeat(40)))),
  },
  {
    id: "A29",
    category: "archive",
    input: "empty tar (two zero blocks)",
    layer: "ingest: empty set",
    expect: { kind: "failed", code: "candidates_empty" },
    run: withCandidates(() => Buffer.alloc(1024)),
  },
  {
    id: "A30",
    category: "archive",
    input: "tar member whose GNU base-256 size is 2^62",
    layer: "ingest: tar index (size past the end)",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => {
      const h = tarHeader({ name: "huge.png", size: 0, type: "0" });
      h.fill(0, 124, 136);
      h[124] = 0x80;
      h[128] = 0x40; // 0x40 << 56 in the 11 bytes after the marker
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      return Buffer.concat([tarOf([{ name: "ok.png", data: png(1) }], { endBlocks: false }), h, Buffer.alloc(1024)]);
    }),
  },
  // ---- .npy ----
  {
    id: "A31",
    category: "archive",
    input: ".npy of float32 images",
    layer: "ingest: npy header",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => npy("<f4", [1, 2, 2, 3])),
  },
  {
    id: "A32",
    category: "archive",
    input: ".npy with object dtype '|O' (a pickle)",
    layer: "ingest: npy header — never unpickled",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => npy("|O", [1])),
  },
  {
    id: "A33",
    category: "archive",
    input: ".npy declaring 10^12 images of 1×1×3",
    layer: "ingest: npy header (maxPoints), before reading data",
    expect: { kind: "failed", code: "too_many_points" },
    run: withCandidates(() => npy("|u1", [1e12, 1, 1, 3])),
  },
  {
    id: "A34",
    category: "archive",
    input: ".npy declaring 4 images of 64×64×3 with 64 bytes of data",
    layer: "ingest: npy header (truncated)",
    expect: { kind: "failed", code: "archive_invalid" },
    run: withCandidates(() => npy("|u1", [4, 64, 64, 3])),
  },
  // ---- members that are skipped and counted ----
  {
    id: "A35",
    category: "archive",
    input: "tar with readme.txt, labels.csv, .DS_Store and two images",
    layer: "ingest: index — non-images SKIPPED and counted",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const { skippedFiles, ...source } = (await ctx.report(audit.id)).audit.candidatesSource;
        assert.deepEqual(source, { kind: "tar", count: 2, skipped: 3 });
        assert.deepEqual(skippedFiles?.map((f: { id: string }) => f.id).sort(), [".DS_Store", "labels.csv", "readme.txt"], "every skipped entry is named");
        assert.deepEqual((await ctx.results(audit.id)).map((r) => r.id).sort(), ["ok.png", "two.png"]);
      },
    },
    checks: "report candidatesSource {count 2, skipped 3}; results only for the images",
    run: withCandidates(() =>
      tarWithValid(
        { name: "readme.txt", data: Buffer.from("hello") },
        { name: "labels.csv", data: Buffer.from("id,label\n1,cat\n") },
        { name: ".DS_Store", data: Buffer.from([0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31]) },
        { name: "two.png", data: png(2) },
      ),
    ),
  },
  {
    id: "A36",
    category: "archive",
    input: "zip holding a nested .zip, a nested .tar.gz and one image",
    layer: "ingest: index — nested archives SKIPPED (not opened) and counted",
    expect: {
      kind: "succeeded",
      check: async (audit, ctx) => {
        const { skippedFiles, ...source } = (await ctx.report(audit.id)).audit.candidatesSource;
        assert.deepEqual(source, { kind: "zip", count: 1, skipped: 2 });
        assert.equal(skippedFiles?.length, 2, "every skipped entry is named");
      },
    },
    checks: "report candidatesSource {count 1, skipped 2}",
    run: withCandidates(() =>
      zipWithValid(
        { name: "inner.zip", data: writeZip([{ name: "hidden.png", data: png(3) }]) },
        { name: "inner.tar.gz", data: writeTarGz([{ name: "hidden.png", data: png(4) }]) },
      ),
    ),
  },
  {
    id: "A37",
    category: "archive",
    input: "tar holding only a nested tar of images",
    layer: "ingest: index — nested skipped → empty set",
    expect: { kind: "failed", code: "candidates_empty" },
    detail: /1 skipped.*nested tar archive is not opened/,
    checks: "detail says 1 skipped, nested archive not opened",
    run: withCandidates(() => tarOf([{ name: "inner.tar", data: tarOf([{ name: "x.png", data: png(5) }]) }])),
  },
];
