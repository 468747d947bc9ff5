/**
 * Typed arrays for packing a batch's graph inputs (augment-graph.ts), reused from batch to
 * batch. A batch's column and blur matrices are megabytes (views × width × width floats): a fresh
 * array of that size is memory the kernel maps, faults in and zeroes page by page, and unmaps
 * again when it is collected. On this project's 2-core virtual machine a fresh 1 MiB Float32Array
 * cost 3.4 ms of CPU, filling a kept one with zeros 0.07 ms — and packing the fixture's batch of
 * 256 views (three such arrays) took 12 ms of CPU, more than decoding its eight images.
 *
 * One writer: the pipeline that packs a batch owns its arrays until the batch has run, then gives
 * them back (batch-pipeline.ts); an array is handed out again only after it was given back.
 */

/**
 * What an array handed out holds: zeros, or anything ("overwritten": the caller writes every
 * element before it reads one). Zeroing a kept array is a pass over all of it, long before the
 * packer's scattered writes reach its cache lines again; the packer zeroes the column and blur
 * matrices one view's block at a time instead, just before it writes the block (augment-graph.ts).
 */
export type ArrayContents = "zeroed" | "overwritten";

/** Where packAugmentInputs gets its arrays, of exactly the length asked for (zero-filled unless asked otherwise). */
export interface PackingArrays {
  float32(length: number, contents?: ArrayContents): Float32Array;
  int32(length: number, contents?: ArrayContents): Int32Array;
  uint8(length: number, contents?: ArrayContents): Uint8Array;
  /** Takes back arrays a packer used as scratch (a pool keeps them; fresh arrays are dropped). */
  give?(arrays: Iterable<unknown>): void;
}

/** Fresh arrays every time (no pool): always zeroed. */
export const FRESH_ARRAYS: PackingArrays = {
  float32: (n) => new Float32Array(n),
  int32: (n) => new Int32Array(n),
  uint8: (n) => new Uint8Array(n),
};

type Pooled = Float32Array | Int32Array | Uint8Array;

/**
 * Arrays given back, by element type and length, at most `limit` of them (the oldest go first):
 * an audit packs one batch while the one before it runs, so two batches' arrays are enough.
 */
export class ArrayPool implements PackingArrays {
  readonly #float32: Float32Array[] = [];
  readonly #int32: Int32Array[] = [];
  readonly #uint8: Uint8Array[] = [];
  /** All kept arrays, oldest first, to drop beyond the limit. */
  #order: Pooled[] = [];

  constructor(private readonly limit = 32) {}

  float32(length: number, contents: ArrayContents = "zeroed"): Float32Array {
    return this.#take(this.#float32, length, contents, (n) => new Float32Array(n));
  }

  int32(length: number, contents: ArrayContents = "zeroed"): Int32Array {
    return this.#take(this.#int32, length, contents, (n) => new Int32Array(n));
  }

  uint8(length: number, contents: ArrayContents = "zeroed"): Uint8Array {
    return this.#take(this.#uint8, length, contents, (n) => new Uint8Array(n));
  }

  /** Gives arrays back for later batches; the caller must not use them afterwards. */
  give(arrays: Iterable<unknown>): void {
    for (const a of arrays) {
      if (a instanceof Float32Array) this.#keep(this.#float32, a);
      else if (a instanceof Int32Array) this.#keep(this.#int32, a);
      else if (a instanceof Uint8Array) this.#keep(this.#uint8, a);
    }
    while (this.#order.length > this.limit) this.#drop(this.#order[0]);
  }

  /** Arrays kept now (tests). */
  get size(): number {
    return this.#order.length;
  }

  #keep<A extends Pooled>(list: A[], a: A): void {
    // A whole buffer only: a view into a larger one may share it with something else.
    if (a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || list.includes(a)) return;
    list.push(a);
    this.#order.push(a);
  }

  #take<A extends Pooled>(list: A[], length: number, contents: ArrayContents, make: (n: number) => A): A {
    const i = list.findIndex((a) => a.length === length);
    if (i < 0) return make(length);
    const [a] = list.splice(i, 1);
    this.#order = this.#order.filter((x) => x !== a);
    if (contents === "zeroed") a.fill(0);
    return a;
  }

  #drop(a: Pooled): void {
    this.#order = this.#order.filter((x) => x !== a);
    if (a instanceof Float32Array) remove(this.#float32, a);
    else if (a instanceof Int32Array) remove(this.#int32, a);
    else remove(this.#uint8, a);
  }
}

function remove<A>(list: A[], a: A): void {
  const i = list.indexOf(a);
  if (i >= 0) list.splice(i, 1);
}
