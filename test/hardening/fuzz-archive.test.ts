/**
 * Property-based fuzzing of the archive reader (issue 4): valid tar, tar.gz, zip and .npy files
 * with generated members, then mutated byte by byte, are written to a temp file and opened with
 * openPointSet; every point that opens is loaded. Only an SslmemError with an ingestion code may
 * escape — never a RangeError, a zlib error or a hang — and no scratch file outlives the set.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import type { ErrorCode } from "../../src/core/errors.ts";
import { openPointSet, type PointSet } from "../../src/data/sources.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { encodePng } from "../helpers/data-png.ts";
import { writeTar, writeTarGz } from "../helpers/data-tar.ts";
import { writeZip } from "../helpers/data-zip.ts";
import { assertExpectedError, check, mutate, mutationArb } from "./support/fuzz.ts";

const INGEST_CODES: ErrorCode[] = [
  "archive_invalid",
  "archive_unsafe",
  "archive_too_large",
  "candidates_empty",
  "too_many_points",
  "image_invalid",
  "image_too_large",
];

/** Small limits: a mutated size field must be refused, not honoured with a big allocation. */
const LIMITS = {
  maxPixels: 64 * 64,
  maxPoints: 32,
  maxArchiveEntries: 32,
  maxExpandedBytes: 1 << 20,
  maxExpansionRatio: 50,
  ratioGraceBytes: 4096,
  maxFileBytes: 256 * 1024,
};

let dir: string;
/** Where openPointSet extracts .tar.gz files; must be empty again after every run. */
let scratch: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sslmem-fuzz-archive-"));
  scratch = join(dir, "scratch");
  await mkdir(scratch);
});
after(() => rm(dir, { recursive: true, force: true }));

const tinyPng = (w: number, h: number, v: number) =>
  encodePng({ width: w, height: h, colorType: 2, samples: Array.from({ length: w * h * 3 }, (_, i) => (v + i * 37) & 0xff) });

const memberArb = fc.record({
  name: fc.oneof(
    fc.constantFrom("a.png", "dir/b.png", "c.jpg", "deep/er/d.png", "notes.txt", "dir/", "ünï.png", "x y.png", "./e.png", "f.PNG"),
    fc.stringMatching(/^[a-z0-9_./-]{1,30}$/),
  ),
  content: fc.oneof(
    { weight: 4, arbitrary: fc.record({ w: fc.integer({ min: 1, max: 6 }), h: fc.integer({ min: 1, max: 6 }), v: fc.nat(255) }).map(({ w, h, v }) => tinyPng(w, h, v)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  ),
});

type Format = "tar" | "tar.gz" | "zip" | "npy";

const archiveArb = fc.record({
  format: fc.constantFrom<Format>("tar", "tar.gz", "zip", "npy"),
  members: fc.uniqueArray(memberArb, { minLength: 1, maxLength: 5, selector: (m) => m.name }),
  npy: fc.record({ n: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 4 }), w: fc.integer({ min: 1, max: 4 }), c: fc.constantFrom(1, 3, 4) }),
  stored: fc.boolean(),
  mutations: fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
});

interface GeneratedArchive {
  format: Format;
  members: { name: string; content: Uint8Array }[];
  npy: { n: number; h: number; w: number; c: number };
  stored: boolean;
}

function build(a: GeneratedArchive): Buffer {
  switch (a.format) {
    case "tar":
      return writeTar(a.members.map((m) => ({ name: m.name, data: m.content })));
    case "tar.gz":
      return writeTarGz(a.members.map((m) => ({ name: m.name, data: m.content })));
    case "zip":
      return writeZip(a.members.map((m) => ({ name: m.name, data: m.content, method: a.stored ? 0 : 8 })));
    case "npy": {
      const { n, h, w, c } = a.npy;
      const shape = c === 1 ? [n, h, w] : [n, h, w, c];
      return writeNpy({ shape, data: Uint8Array.from({ length: n * h * w * c }, (_, i) => i & 0xff) });
    }
  }
}

test("mutated tar, tar.gz, zip and .npy files: only ingestion SslmemErrors escape; every opened point loads or is refused cleanly", async () => {
  let opened = 0;
  let loaded = 0;
  await check(
    "archive-reader-mutations",
    fc.asyncProperty(archiveArb, async (a) => {
      const valid = build(a);
      // Headers decide most things: aim mutations at the first and last 1 KiB (headers, zip directory).
      const bytes = a.mutations.length === 0 ? valid : mutate(valid, a.mutations, 1024);
      const file = join(dir, `f${counter++ % 8}`);
      await writeFile(file, bytes);
      try {
        let set: PointSet;
        try {
          set = await openPointSet(file, LIMITS, { tmpDir: scratch });
        } catch (e) {
          assertExpectedError(e, INGEST_CODES);
          return;
        }
        opened++;
        try {
          assert.equal(set.ids.length, set.size);
          assert.equal(new Set(set.ids).size, set.size, "ids are unique");
          assert.ok(set.size <= LIMITS.maxPoints);
          for (let i = 0; i < set.size; i++) {
            try {
              const img = await set.load(i);
              assert.ok(img.width >= 1 && img.height >= 1 && img.width * img.height <= LIMITS.maxPixels);
              assert.equal(img.data.length, img.width * img.height * 3);
              loaded++;
            } catch (e) {
              assertExpectedError(e, INGEST_CODES);
            }
          }
        } finally {
          await set.close();
        }
      } finally {
        assert.deepEqual(await readdir(scratch), [], "no scratch file outlives the set (extracted .tar.gz)");
      }
    }),
    1200,
  );
  assert.ok(opened > 200 && loaded > 200, `the generator must reach the readers and the decoder (opened ${opened}, loaded ${loaded})`);
});
