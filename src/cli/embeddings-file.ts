/**
 * `sslmem audit --embeddings DIR`: the encoders' representations of every view the audit measured,
 * for the analyses a report does not make (LayerMem/UnitMem-style probes, neighbours, plots):
 *
 *   DIR/target.npy     float32 [points, viewsPerPoint, dim], C order: the target's rows
 *   DIR/reference.npy  the same shape: the reference's rows of the same views
 *   DIR/points.json    row i's point (id, role, measured), viewsPerPoint, dim, pairing, seed, …
 *
 * Row i is point i of the audit (the candidates in their order, then the controls), whatever the
 * batch size or the order batches finish in; a point's views are in the order the distances pair
 * them (core/sslmem.ts). A row is the pooled encoder output, before the L2 normalization that the
 * distances apply. The .npy headers carry the final shape from the start and each batch's rows are
 * written at their offset as the batch finishes, so memory holds one batch, never all points.
 * A point left out as undecodable (--on-invalid skip) keeps NaN rows and `measured: false` (a zero
 * row would pass for a representation). points.json is written last: a folder without it holds an
 * unfinished audit's rows, and an audit that fails removes its .npy files.
 */
import { open, mkdir, rm, writeFile, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { join } from "node:path";
import type { AuditConfig } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import type { PointRole } from "../core/image.ts";
import { viewsPerPoint } from "../core/sslmem.ts";
import type { Representations } from "../engine/batch-pipeline.ts";

export const EMBEDDINGS_FORMAT = "sslmem.embeddings/v1";
export const EMBEDDINGS_FILES = { target: "target.npy", reference: "reference.npy", points: "points.json" } as const;

const SIDES = ["target", "reference"] as const;
type Side = (typeof SIDES)[number];

/** float32 in this machine's byte order, as a Float32Array holds it. */
const FLOAT32_DESCR = endianness() === "LE" ? "<f4" : ">f4";

/**
 * The header of a C-order .npy file (format 1.0) of `shape`, as numpy's np.save writes it: the
 * magic, the version, the header length, then the dict literal padded with spaces to end, with
 * its newline, on a multiple of 64 bytes (so the data that follows is aligned).
 */
export function npyHeader(descr: string, shape: readonly number[]): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  const prefix = 10; // \x93NUMPY, major, minor, uint16 header length
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) throw new SslmemError("internal", "a .npy header longer than format 1.0 allows");
  const out = Buffer.alloc(total, " ");
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(out);
  out.writeUInt16LE(total - prefix, 8);
  out.write(dict, prefix, "latin1");
  out[total - 1] = 0x0a;
  return out;
}

/** The audit's points in row order: the catalog of measure.ts. */
export interface EmbeddingsPoints {
  readonly size: number;
  id(index: number): string;
  locate(index: number): { role: PointRole };
}

export interface EmbeddingsLayout {
  points: EmbeddingsPoints;
  /** Width of a representation row (the same for both encoders: compatibility.ts). */
  dim: number;
  config: Pick<AuditConfig, "views" | "pairing" | "distance" | "seed">;
  /** The encoders' digests, as the report names them. */
  digests: { target?: string; reference?: string };
}

function cannotWrite(dir: string, e: unknown): SslmemError {
  const code = e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : "error";
  const why = code === "EEXIST" || code === "ENOTDIR" ? "a file is in the way (--embeddings names a folder, created if missing)" : `cannot write there (${code})`;
  return new SslmemError("invalid_config", `--embeddings '${dir}': ${why}; pass a folder in a writable place`);
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** points.json: the fields indented, then one line per point (readable, and small for many points). */
function pointsJson(doc: { points: readonly object[] } & Record<string, unknown>): string {
  const { points, ...fields } = doc;
  const head = JSON.stringify(fields, null, 2).slice(0, -2); // without the closing "\n}"
  return `${head},\n  "points": [\n${points.map((p) => `    ${JSON.stringify(p)}`).join(",\n")}\n  ]\n}\n`;
}

export class EmbeddingsFile {
  /** Points whose rows were written; the others get NaN rows when the audit finishes. */
  readonly #written: Uint8Array;
  readonly #perPoint: number;
  #closed = false;

  private constructor(
    readonly dir: string,
    private readonly layout: EmbeddingsLayout,
    private readonly handles: Record<Side, FileHandle>,
    private readonly dataOffset: number,
  ) {
    this.#written = new Uint8Array(layout.points.size);
    this.#perPoint = viewsPerPoint(layout.config.views, layout.config.pairing) * layout.dim;
  }

  /** Both .npy files at their final size with their headers (an old points.json is removed). */
  static async create(dir: string, layout: EmbeddingsLayout): Promise<EmbeddingsFile> {
    const shape = [layout.points.size, viewsPerPoint(layout.config.views, layout.config.pairing), layout.dim];
    const header = npyHeader(FLOAT32_DESCR, shape);
    const size = header.length + shape[0] * shape[1] * shape[2] * Float32Array.BYTES_PER_ELEMENT;
    const opened: FileHandle[] = [];
    try {
      await mkdir(dir, { recursive: true });
      await rm(join(dir, EMBEDDINGS_FILES.points), { force: true });
      for (const side of SIDES) {
        const handle = await open(join(dir, EMBEDDINGS_FILES[side]), "w");
        opened.push(handle);
        await writeAll(handle, header, 0);
        // The rows are written as batches finish; the file has its final size from the start.
        await handle.truncate(size);
      }
    } catch (e) {
      await Promise.allSettled(opened.map((h) => h.close()));
      throw cannotWrite(dir, e);
    }
    return new EmbeddingsFile(dir, layout, { target: opened[0], reference: opened[1] }, header.length);
  }

  /** A batch's rows at their points' offsets: point p of `rows` owns block p of each matrix. */
  async write(rows: readonly { index: number }[], representations: Representations): Promise<void> {
    const block = this.#perPoint;
    for (const side of SIDES) {
      const { data, dim } = representations[side];
      if (dim !== this.layout.dim || data.length !== rows.length * block) {
        throw new SslmemError("internal", `${side} representations of ${data.length} values (dim ${dim}) for ${rows.length} points; expected ${block} values (dim ${this.layout.dim}) per point`);
      }
    }
    // A run of consecutive points is one write per file.
    for (let start = 0; start < rows.length; ) {
      let end = start + 1;
      while (end < rows.length && rows[end].index === rows[end - 1].index + 1) end++;
      const first = rows[start].index;
      if (!Number.isInteger(first) || first < 0 || rows[end - 1].index >= this.#written.length) {
        throw new SslmemError("internal", `point index ${first} is outside the embeddings file`);
      }
      const position = this.dataOffset + first * block * Float32Array.BYTES_PER_ELEMENT;
      for (const side of SIDES) await writeAll(this.handles[side], bytesOf(representations[side].data.subarray(start * block, end * block)), position);
      this.#written.fill(1, first, first + (end - start));
      start = end;
    }
  }

  /** NaN rows for the points never measured, then points.json: the folder is complete. */
  async finish(): Promise<void> {
    const block = this.#perPoint * Float32Array.BYTES_PER_ELEMENT;
    const nan = bytesOf(new Float32Array(this.#perPoint).fill(NaN));
    try {
      for (let i = 0; i < this.#written.length; i++) {
        if (this.#written[i]) continue;
        for (const side of SIDES) await writeAll(this.handles[side], nan, this.dataOffset + i * block);
      }
    } finally {
      await this.close();
    }
    const { points, config, dim, digests } = this.layout;
    const perPoint = viewsPerPoint(config.views, config.pairing);
    const rows = Array.from({ length: points.size }, (_, i) => ({ id: points.id(i), role: points.locate(i).role, measured: this.#written[i] === 1 }));
    const doc = {
      format: EMBEDDINGS_FORMAT,
      files: { target: EMBEDDINGS_FILES.target, reference: EMBEDDINGS_FILES.reference },
      dtype: "float32",
      shape: [points.size, perPoint, dim],
      viewsPerPoint: perPoint,
      dim,
      views: config.views,
      pairing: config.pairing,
      distance: config.distance,
      seed: config.seed,
      representation: "pooled encoder output, before the L2 normalization of the distances",
      encoders: digests,
      points: rows,
    };
    try {
      await writeFile(join(this.dir, EMBEDDINGS_FILES.points), pointsJson(doc));
    } catch (e) {
      throw cannotWrite(this.dir, e);
    }
  }

  /** An audit that did not finish: its rows are removed rather than left to pass for a result. */
  async discard(): Promise<void> {
    await this.close();
    await Promise.allSettled(SIDES.map((side) => rm(join(this.dir, EMBEDDINGS_FILES[side]), { force: true })));
  }

  private async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(SIDES.map((side) => this.handles[side].close()));
  }
}
