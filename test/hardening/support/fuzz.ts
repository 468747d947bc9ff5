/**
 * fast-check settings shared by the fuzz tests: a fixed seed per property (CI is reproducible),
 * overridable from the environment to explore (FUZZ_SEED, FUZZ_RUNS_SCALE), and the seed printed
 * with every failure so a red CI run can be replayed exactly.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { ERROR_CODES, SslmemError, type ErrorCode } from "../../../src/core/errors.ts";

/** The seed of a property: a hash of its name, unless FUZZ_SEED is set. */
export function seedFor(name: string): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) | 0;
  return createHash("sha256").update(name).digest().readInt32LE(0);
}

/** Parameters for fc.assert: fixed seed, `runs` scaled by FUZZ_RUNS_SCALE (default 1). */
export function fuzzParams<T>(name: string, runs: number): fc.Parameters<T> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? "1") || 1;
  return { seed: seedFor(name), numRuns: Math.max(1, Math.round(runs * scale)), endOnFailure: true };
}

/** fc.assert with the seed in the failure message (fast-check prints it too; this names the property). */
export async function check<T>(name: string, property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>, runs: number): Promise<void> {
  const params = fuzzParams<T>(name, runs);
  try {
    await fc.assert(property as fc.IAsyncProperty<T>, params);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // fast-check keeps the property's own error as `cause`; show it, it says what went wrong.
    const cause = e instanceof Error && e.cause instanceof Error ? `\nGot: ${e.cause.message}` : "";
    throw new Error(`fuzz property "${name}" failed (seed ${params.seed}, numRuns ${params.numRuns}; rerun with FUZZ_SEED=${params.seed}):\n${message}${cause}`, { cause: e });
  }
}

/** Throws unless `e` is an SslmemError whose code is one of `allowed` (and a known, 4xx code). */
export function assertExpectedError(e: unknown, allowed: readonly ErrorCode[]): void {
  if (!(e instanceof SslmemError)) {
    throw new Error(`unexpected ${e instanceof Error ? e.constructor.name : typeof e}: ${e instanceof Error ? e.stack : String(e)}`);
  }
  if (!allowed.includes(e.code) || ERROR_CODES[e.code] >= 500) {
    throw new Error(`unexpected code ${e.code}: ${e.message}`);
  }
}

/** Byte-level mutations: what a fuzzer does to a valid file (flip, overwrite, cut, insert, delete). */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "set32"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number };

/** Positions are fractions of the length, so one mutation list applies to any file. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x2e, 0x2f, 0x30) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set32" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x10000, 50_000, 1 << 20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }) },
);

/** Applies `mutations` in order; `focus` (bytes) biases them toward both ends of the file. */
export function mutate(input: Uint8Array, mutations: readonly Mutation[], focus?: number): Buffer {
  let buf = Buffer.from(input);
  for (const m of mutations) {
    if (buf.length === 0) break;
    // A third of the mutations land in the first `focus` bytes and a third in the last (headers,
    // zip's central directory): where parsers make their decisions.
    let at = m.at % buf.length;
    if (focus !== undefined && m.at % 3 === 0) at = m.at % Math.min(focus, buf.length);
    if (focus !== undefined && m.at % 3 === 1) at = buf.length - 1 - (m.at % Math.min(focus, buf.length));
    switch (m.kind) {
      case "flip":
        buf[at] ^= 1 << m.bit;
        break;
      case "set":
        buf[at] = m.value;
        break;
      case "set32":
        if (at + 4 <= buf.length) buf.writeUInt32LE(m.value >>> 0, at);
        break;
      case "truncate":
        buf = buf.subarray(0, at);
        break;
      case "insert":
        buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
        break;
      case "delete":
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
        break;
    }
  }
  return buf;
}
