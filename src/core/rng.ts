/**
 * Counter-based random numbers for augmentation views (DESIGN.md §1, "Reproducibility").
 *
 * Every number of a view is a pure function of (seed, point id, view index, stream tag, counter),
 * so a view is the same whatever the batch size, worker count, shard or processing order.
 *
 * Generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * checked against the Random123 known-answer vectors. Layout of one draw:
 *
 *   key     = [lo32, hi32] of FNV-1a-64(UTF-8 bytes of pointId)
 *   counter = [block, viewIndex, seed, tag]      (block = 0, 1, 2, … within the stream)
 *
 * Distinct (seed, pointId, viewIndex, tag, block) give distinct Philox inputs, hence independent
 * outputs (up to a 2^-64 collision of two point-id hashes). Each block yields four 32-bit words,
 * consumed in order; a double uses two words (53 random bits).
 *
 * Only 32-bit integer arithmetic and exact double products are used (no BigInt): this runs on the
 * hot path of view sampling.
 */
import { SslmemError } from "./errors.ts";

const TWO_32 = 4294967296;

/** High 32 bits of the 64-bit product of two uint32 values. */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo; // < 2^32
  const mid = aHi * bLo + aLo * bHi + (ll >>> 16); // < 2^34, exact in a double
  return (aHi * bHi + Math.floor(mid / 65536)) >>> 0;
}

/** High and low 32-bit halves of the 64-bit product of two uint32 values (what a Philox round takes). */
export function mulhilo32(a: number, b: number): [hi: number, lo: number] {
  return [mulhi32(a, b), Math.imul(a, b) >>> 0];
}

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Philox4x32 with `rounds` rounds (10 is the standard, crush-resistant choice). */
export function philox4x32(counter: readonly number[], key: readonly number[], rounds = 10): [number, number, number, number] {
  const out = new Uint32Array(4);
  philoxInto(out, counter[0] >>> 0, counter[1] >>> 0, counter[2] >>> 0, counter[3] >>> 0, key[0] >>> 0, key[1] >>> 0, rounds);
  return [out[0], out[1], out[2], out[3]];
}

/**
 * Philox4x32 of one block into `out` (the stream's four words): the rounds of philox4x32 with
 * no array in or out. Views are sampled on the main thread between batch runs, ~10 blocks a view;
 * the array arguments and results of every block were most of the sampling's time.
 */
function philoxInto(out: Uint32Array, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * FNV-1a 64-bit hash of the UTF-8 bytes of `text`, as [lo32, hi32].
 * FNV prime 2^40 + 0x1b3: x·prime = (x << 40) + x·0x1b3 (mod 2^64), done on 32-bit halves.
 */
export function fnv1a64(text: string): [lo: number, hi: number] {
  const bytes = new TextEncoder().encode(text);
  let lo = 0x84222325;
  let hi = 0xcbf29ce4;
  for (const byte of bytes) {
    lo = (lo ^ byte) >>> 0;
    const loTimes = lo * 0x1b3; // < 2^41, exact
    const carry = Math.floor(loTimes / TWO_32);
    hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0; // < 2^42 before the modulo, exact
    lo = loTimes >>> 0;
  }
  return [lo, hi];
}

/** Hex string of a 64-bit [lo, hi] pair (for tests and logs). */
export function hex64([lo, hi]: readonly [number, number]): string {
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

export interface RandomStream {
  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Uniform in [a, b) (torch `uniform_(a, b)` semantics: a + (b − a)·u). */
  uniformRange(a: number, b: number): number;
  /** true with probability p; always consumes one uniform so the stream layout does not depend on p. */
  bernoulli(p: number): boolean;
  /** Uniform integer in [0, n); bias ≤ n/2^53, negligible for image sizes. */
  randint(n: number): number;
  /** A uniformly random permutation of 0..n−1 (Fisher–Yates). */
  permutation(n: number): number[];
  /**
   * An independent stream with the same (seed, pointId, viewIndex) and another tag. Used to give
   * each augmentation op its own numbers, so changing one op's parameters leaves the others'
   * draws unchanged (common random numbers across policy variants).
   */
  substream(tag: number): RandomStream;
}

function checkUint32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_32) {
    throw new SslmemError("invalid_config", `${name} must be an integer in [0, 2^32), got ${v}`);
  }
}

class PhiloxStream implements RandomStream {
  private block = 0;
  /** The current block's four words, consumed from `next`. */
  private readonly words = new Uint32Array(4);
  private next = 4;

  constructor(
    private readonly key: readonly [number, number],
    private readonly seed: number,
    private readonly viewIndex: number,
    private readonly tag: number,
  ) {}

  private word(): number {
    if (this.next === 4) {
      philoxInto(this.words, this.block, this.viewIndex, this.seed, this.tag, this.key[0], this.key[1], 10);
      this.block = (this.block + 1) >>> 0;
      this.next = 0;
    }
    return this.words[this.next++];
  }

  uniform(): number {
    const a = this.word() >>> 5; // 27 bits
    const b = this.word() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  uniformRange(a: number, b: number): number {
    return a + (b - a) * this.uniform();
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  randint(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new SslmemError("internal", `randint needs a positive integer bound, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  permutation(n: number): number[] {
    const perm: number[] = [];
    for (let i = 0; i < n; i++) perm.push(i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.randint(i + 1);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    return perm;
  }

  substream(tag: number): RandomStream {
    checkUint32("stream tag", tag);
    return new PhiloxStream(this.key, this.seed, this.viewIndex, tag);
  }
}

/** The random stream of view `viewIndex` of point `pointId` under `seed` (stream tag 0). */
export function viewStream(seed: number, pointId: string, viewIndex: number): RandomStream {
  return pointStreams(seed, pointId)(viewIndex);
}

/** The view streams of one point: `viewStream(seed, pointId, i)` for every i, the id hashed once. */
export function pointStreams(seed: number, pointId: string): (viewIndex: number) => RandomStream {
  checkUint32("seed", seed);
  const key = fnv1a64(pointId);
  return (viewIndex) => {
    checkUint32("view index", viewIndex);
    return new PhiloxStream(key, seed, viewIndex, 0);
  };
}
