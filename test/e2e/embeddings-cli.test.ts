/**
 * `sslmem audit --embeddings DIR` (compiled CLI, child process, the fixture encoders): target.npy
 * and reference.npy read back with a reader of this file are float32 [points, views per point, dim]
 * in C order; row i is points.json's point i (candidates, then controls); the rows are what the
 * batch pipeline returns for the same points and seed, and the distances recomputed from them are
 * the ones the engine measured and the report's alignments; the files are the same whatever
 * --batch-size; an undecodable image keeps NaN rows; the refusals exit 1 with one line.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ReportV1Schema, type ReportV1 } from "../../src/core/report.ts";
import { pairDistances, viewsPerPoint } from "../../src/core/sslmem.ts";
import { sampleViewsForPoint } from "../../src/core/view-params.ts";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { openPoints, prepareLocalAudit, readModel } from "../../src/cli/local-inputs.ts";
import { prepareAudit, type PreparedAudit } from "../../src/engine/audit.ts";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeNpy } from "../helpers/data-npy.ts";
import { ROOT, runCli } from "../cli/run-cli.ts";

const fixtures = join(ROOT, "fixtures");
const TARGET = join(fixtures, "encoders/target.onnx");
const REFERENCE = join(fixtures, "encoders/reference.onnx");
const VIEWS = 3;
const SEED = 7;

/** A float32 .npy as numpy writes it: format 1.0, little-endian, C order (the reader of the test, not of src/). */
function readFloat32Npy(path: string): { shape: number[]; data: Float32Array; headerBytes: number } {
  const bytes = readFileSync(path);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], "the .npy magic, format 1.0");
  const headerBytes = 10 + bytes.readUInt16LE(8);
  const header = bytes.subarray(10, headerBytes).toString("latin1");
  assert.equal(headerBytes % 64, 0, "the data starts on a 64-byte boundary, as np.save aligns it");
  assert.ok(header.endsWith("\n"), "the header ends with a newline");
  const m = /^\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+), (\d+)\), \} *\n$/.exec(header);
  assert.ok(m, `a float32 C-order header: ${JSON.stringify(header)}`);
  const shape = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.equal(bytes.length - headerBytes, shape[0] * shape[1] * shape[2] * 4, "the data is exactly the shape's float32 values");
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + headerBytes, bytes.byteOffset + bytes.length));
  return { shape, data, headerBytes };
}

interface PointsJson {
  format: string;
  shape: number[];
  viewsPerPoint: number;
  dim: number;
  views: number;
  pairing: "views" | "original";
  distance: "l2" | "cosine";
  seed: number;
  encoders: { target?: string; reference?: string };
  points: { id: string; role: "candidate" | "control"; measured: boolean }[];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe("sslmem audit --embeddings", () => {
  let dir: string;
  let candidates: string;
  let controls: string;
  /** The audit's flags, without --embeddings, -o and --batch-size. */
  let base: string[];
  before(() => {
    dir = tempDir();
    candidates = join(dir, "candidates");
    for (const group of ["member", "nonmember"]) {
      mkdirSync(join(candidates, group), { recursive: true });
      for (const n of readdirSync(join(fixtures, "data/candidates", group)).sort().slice(0, 5)) copyFileSync(join(fixtures, "data/candidates", group, n), join(candidates, group, n));
    }
    // The first 6 fixture controls as a .npy of their own.
    const npy = readFileSync(join(fixtures, "data/controls.npy"));
    const offset = 10 + npy.readUInt16LE(8);
    controls = join(dir, "controls.npy");
    writeFileSync(controls, writeNpy({ shape: [6, 32, 32, 3], data: npy.subarray(offset, offset + 6 * 32 * 32 * 3) }));
    base = ["audit", "--target", TARGET, "--reference", REFERENCE, "--candidates", candidates, "--controls", controls, "--views", String(VIEWS), "--seed", String(SEED), "--providers", "cpu", "--threads", "1", "--quiet"];
  });

  async function audit(name: string, extra: string[]): Promise<{ report: ReportV1; folder: string; meta: PointsJson; target: ReturnType<typeof readFloat32Npy>; reference: ReturnType<typeof readFloat32Npy> }> {
    const folder = join(dir, name);
    const out = join(dir, `${name}.json`);
    const r = await runCli([...base, ...extra, "--embeddings", folder, "-o", out]);
    assert.equal(r.status, 0, r.stderr);
    return {
      report: ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8"))),
      folder,
      meta: JSON.parse(readFileSync(join(folder, "points.json"), "utf8")) as PointsJson,
      target: readFloat32Npy(join(folder, "target.npy")),
      reference: readFloat32Npy(join(folder, "reference.npy")),
    };
  }

  it("writes float32 [points, views per point, dim] rows that are the pipeline's representations and give the engine's distances, whatever --batch-size", async () => {
    const run = await audit("b4", ["--batch-size", "4"]);
    const points = 10 + 6;
    const perPoint = viewsPerPoint(VIEWS, "views");
    assert.deepEqual(run.target.shape, [points, perPoint, 64]);
    assert.deepEqual(run.reference.shape, [points, perPoint, 64]);
    assert.equal(run.meta.format, "sslmem.embeddings/v1");
    assert.deepEqual(run.meta.shape, [points, perPoint, 64]);
    assert.deepEqual([run.meta.viewsPerPoint, run.meta.dim, run.meta.views, run.meta.pairing, run.meta.distance, run.meta.seed], [perPoint, 64, VIEWS, "views", "l2", SEED]);
    assert.deepEqual(run.meta.encoders, { target: run.report.audit.target.digest, reference: run.report.audit.reference.digest });
    // Row order = the report's points: candidates, then controls.
    assert.deepEqual(run.meta.points.map((p) => [p.id, p.role]), run.report.points.map((p) => [p.id, p.role]));
    assert.ok(run.meta.points.every((p) => p.measured));
    assert.equal(run.meta.points[10].role, "control");

    // The same points through the batch pipeline, in this process, with the CLI's own config.
    const cmd = parseAuditCommand(base.slice(1));
    assert.notEqual(cmd, "help");
    if (cmd === "help") return;
    const sets = { candidates: await openPoints(candidates, "candidates"), controls: await openPoints(controls, "controls") };
    const models = { target: await readModel(TARGET, "target"), reference: await readModel(REFERENCE, "reference") };
    const opened: PreparedAudit[] = [];
    try {
      const prepared = await prepareLocalAudit({ ...models, ...sets }, cmd);
      opened.push(prepared);
      const chained = await prepareAudit({ ...models, ...sets }, cmd.config, { providers: ["cpu"], threads: 1, memoryBudget: null, pipeline: "chained" });
      opened.push(chained);
      const { catalog } = prepared.context;
      const picked = [0, 7, 12]; // a member, a non-member, a control
      const batch = await Promise.all(
        picked.map(async (index) => {
          const { set, local } = catalog.locate(index);
          const image = await set.load(local);
          const out = { height: prepared.encoders.target.preprocessing.height, width: prepared.encoders.target.preprocessing.width };
          return { image, views: sampleViewsForPoint(prepared.policy, cmd.config.pairing, cmd.config.seed, set.ids[local], cmd.config.views, { height: image.height, width: image.width }, out) };
        }),
      );
      // The CLI's composed pipeline makes its views on the host on the CPU (host-augment.ts); the
      // chained pipeline makes them with the augmentation graph: float32 rounding apart (views
      // within ~1e-7), so its rows are held to 1e-5, the composed pipeline's own to 1e-6.
      const tolerance = (mode: string) => (mode === "chained" ? 1e-5 : 1e-6);
      const check = async (p: PreparedAudit, mode: string) => {
        assert.equal(p.pipeline.mode, mode);
        const measured = await p.context.pipeline.run(batch, { representations: true });
        const reps = measured.representations;
        assert.ok(reps, `${mode}: representations on request`);
        const block = perPoint * 64;
        picked.forEach((index, p) => {
          for (const side of ["target", "reference"] as const) {
            const saved = run[side].data.subarray(index * block, (index + 1) * block);
            const diff = maxAbsDiff(saved, reps[side].data.subarray(p * block, (p + 1) * block));
            assert.ok(diff <= tolerance(mode), `${mode} ${side} rows of point ${index}: max |Δ| ${diff}`);
            // The per-pair distances from the saved rows are the ones the engine measured.
            const fromRows = pairDistances({ data: saved, dim: 64 }, "views", "l2");
            const engine = measured[side].subarray(p * VIEWS, (p + 1) * VIEWS);
            const dd = maxAbsDiff(fromRows, engine);
            assert.ok(dd <= tolerance(mode), `${mode} ${side} pair distances of point ${index}: max |Δ| ${dd}`);
          }
        });
      };
      await check(prepared, "fused");
      await check(chained, "chained");
    } finally {
      for (const p of opened) await p.release();
      await sets.candidates.close();
      await sets.controls.close();
    }

    // Every point's alignments in the report, recomputed from its saved rows.
    const block = perPoint * 64;
    run.report.points.forEach((point, i) => {
      const mean = (side: "target" | "reference") => {
        const d = pairDistances({ data: run[side].data.subarray(i * block, (i + 1) * block), dim: 64 }, "views", "l2");
        return d.reduce((s, x) => s + x, 0) / d.length;
      };
      assert.ok(Math.abs(mean("target") - point.alignTarget) <= 1e-6, `${point.id}: alignTarget ${point.alignTarget} vs ${mean("target")} from the rows`);
      assert.ok(Math.abs(mean("reference") - point.alignReference) <= 1e-6, `${point.id}: alignReference`);
    });

    // Batches of one point (no memory probe either): the same files, byte for byte.
    const single = await audit("b1", ["--batch-size", "1", "--memory-budget", "64M"]);
    for (const name of ["target.npy", "reference.npy", "points.json"]) {
      assert.ok(readFileSync(join(single.folder, name)).equals(readFileSync(join(run.folder, name))), `${name} is the same with --batch-size 1 and 4`);
    }
  });

  it("an image left out as undecodable keeps NaN rows and measured: false; a failed audit leaves no .npy files", async () => {
    const broken = join(dir, "broken");
    mkdirSync(broken);
    for (const n of ["member/0000.png", "member/0001.png", "member/0002.png"]) copyFileSync(join(fixtures, "data/candidates", n), join(broken, n.replace("/", "-")));
    const png = readFileSync(join(fixtures, "data/candidates/member/0003.png"));
    writeFileSync(join(broken, "member-0001b-truncated.png"), png.subarray(0, Math.floor(png.length / 2)));
    const args = ["audit", "--target", TARGET, "--reference", REFERENCE, "--candidates", broken, "--views", "2", "--providers", "cpu", "--threads", "1", "--batch-size", "2", "--quiet"];
    const folder = join(dir, "skipped");
    const r = await runCli([...args, "--embeddings", folder]);
    assert.equal(r.status, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(folder, "points.json"), "utf8")) as PointsJson;
    assert.deepEqual(meta.points.map((p) => [p.id, p.measured]), [["member-0000.png", true], ["member-0001.png", true], ["member-0001b-truncated.png", false], ["member-0002.png", true]]);
    const target = readFloat32Npy(join(folder, "target.npy"));
    const block = 4 * 64;
    const rows = (i: number) => [...target.data.subarray(i * block, (i + 1) * block)];
    assert.ok(rows(2).every(Number.isNaN), "the left-out point's rows are NaN");
    for (const i of [0, 1, 3]) assert.ok(rows(i).every(Number.isFinite) && rows(i).some((x) => x !== 0), `point ${i} has its rows`);

    const failed = join(dir, "failed");
    const fail = await runCli([...args, "--on-invalid", "fail", "--embeddings", failed, "--checkpoint", join(dir, "failed.checkpoint")]);
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stderr, /rerun the same command without --embeddings and with --resume to continue \(or without --resume to start over with --embeddings\)$/m);
    assert.deepEqual(readdirSync(failed), [], "the failed audit's rows are removed, and no points.json claims them");
  });

  it("is refused with --server, SSLMEM_SERVER, --resume, --dry-run, inspect, an empty folder and a TF.js encoder", async () => {
    const folder = join(dir, "refused");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[...base, "--embeddings", folder, "--server", "http://127.0.0.1:9"], {}, /^error: --embeddings writes the representations of a local audit; an audit on a server \(--server or SSLMEM_SERVER\) does not return them/],
      [[...base, "--embeddings", folder], { SSLMEM_SERVER: "http://127.0.0.1:9" }, /^error: --embeddings writes the representations of a local audit/],
      [[...base, "--embeddings", folder, "--resume", "--checkpoint", join(dir, "none.checkpoint")], {}, /^error: --embeddings cannot resume: the interrupted run's representations were not kept/],
      [[...base, "--embeddings", folder, "--dry-run"], {}, /^error: --embeddings writes the representations of a whole audit; --dry-run \/ inspect measures only a probe batch/],
      [["inspect", ...base.slice(1), "--embeddings", folder], {}, /^error: --embeddings writes the representations of a whole audit/],
      [[...base, "--embeddings="], {}, /^error: --embeddings takes a folder/],
    ];
    for (const [args, env, message] of cases) {
      const r = await runCli(args, { env });
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const tfjs = join(dir, "target-tfjs");
    await writeLayersModel(TARGET, tfjs);
    const r = await runCli(["audit", "--target", tfjs, "--reference", REFERENCE, "--candidates", candidates, "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--embeddings", folder, "--quiet"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: --embeddings needs both encoders in ONNX: the measurement of a TF.js encoder does not return representations$/m);
    assert.equal(existsSync(folder), false, "nothing is written by a refused audit");
  });
});
