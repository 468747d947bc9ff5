/**
 * Scaled-mode test support: the real Redis (SSLMEM_TEST_REDIS_URL, default the CI one on
 * loopback), a unique BullMQ key prefix per test so tests never see each other's jobs, and audit
 * inputs stored the way the API stores them (blob bytes + ownership + a queued audit).
 *
 * CI starts Redis, so an unreachable server is a failure, not a skip: a scaled-mode suite that
 * passes without its queue proves nothing. SSLMEM_SKIP_REDIS=1 skips on purpose.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { Redis } from "ioredis";
import type { AuditConfigInput } from "../../src/core/audit-config.ts";
import { AuditConfigSchema } from "../../src/core/audit-config.ts";
import type { QueueSettings } from "../../src/jobs/queue-jobs.ts";
import type { BlobStore } from "../../src/store/blob-store.ts";
import type { AuditInputs, Store } from "../../src/store/types.ts";
import { writeNpy } from "./data-npy.ts";
import { convNet, seededRandom } from "./tiny-encoders.ts";
import { pollUntil } from "./poll.ts";
import { AuditService } from "../../src/audits/audit-service.ts";
import { pino } from "pino";

export const REDIS_TEST_URL = process.env.SSLMEM_TEST_REDIS_URL || "redis://127.0.0.1:6379";
export const SKIP_REDIS = process.env.SSLMEM_SKIP_REDIS === "1";

/** null when Redis answers PING, else why not. */
export async function probeRedis(url: string = REDIS_TEST_URL): Promise<string | null> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  let cause = "";
  client.on("error", (e: NodeJS.ErrnoException) => (cause ||= e.code ?? e.message));
  try {
    await client.connect();
    return (await client.ping()) === "PONG" ? null : "PING was not answered with PONG";
  } catch (e) {
    return cause || (e as Error).message;
  } finally {
    client.disconnect();
  }
}

/** Throws the loud, actionable failure of a scaled-mode suite without its Redis. */
export async function requireRedis(): Promise<void> {
  const why = await probeRedis();
  if (why) {
    throw new Error(
      `Redis is not reachable at ${REDIS_TEST_URL} (${why}). The scaled-mode tests need a real server: start it ` +
        "(CI: scripts/ci-services.sh; here: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no), " +
        "point SSLMEM_TEST_REDIS_URL at one, or set SSLMEM_SKIP_REDIS=1 to skip these tests deliberately.",
    );
  }
}

let counter = 0;

/** A BullMQ key prefix no other test (or concurrent test process) uses. */
export function uniquePrefix(): string {
  return `sslmem-test-${process.pid}-${++counter}-${randomBytes(3).toString("hex")}`;
}

/** Deletes every Redis key under `prefix` (the queue's jobs, events, locks). */
export async function deletePrefix(prefix: string, url: string = REDIS_TEST_URL): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      cursor = next;
      if (keys.length) deleted += await client.del(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
  return deleted;
}

/** Settings with timings short enough for tests (a dead worker's shard is retried within ~2 s). */
export function testQueueSettings(prefix: string, overrides: Partial<QueueSettings> = {}): QueueSettings {
  return {
    url: REDIS_TEST_URL,
    name: "sslmem",
    prefix,
    shardSize: 16,
    lockMs: 1500,
    stalledIntervalMs: 500,
    maxStalledCount: 3,
    attempts: 3,
    backoffMs: 50,
    ...overrides,
  };
}

/** The tiny conv encoders of audit-inputs.ts (16×16 inputs), as bytes. */
export function tinyEncoderBytes(): { target: Uint8Array; reference: Uint8Array } {
  return {
    target: convNet({ seed: 11, height: 16, width: 16, widths: [8, 16], dim: 12 }),
    reference: convNet({ seed: 23, height: 16, width: 16, widths: [8, 16], dim: 12 }),
  };
}

/** n random RGB images of size×size as .npy bytes (point ids are the row numbers). */
export function randomNpyBytes(n: number, size: number, seed: number): Buffer {
  const rand = seededRandom(seed);
  const data = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return writeNpy({ shape: [n, size, size, 3], data });
}

/** Stores `bytes` as a blob owned by `tenant`, as an upload would; returns the digest. */
export async function storeBlob(blobs: BlobStore, store: Store, tenant: string, bytes: Uint8Array): Promise<string> {
  const { digest, size } = await blobs.put(Readable.from([Buffer.from(bytes)]), { maxBytes: 1 << 30 });
  await store.recordBlob({ digest, size, tenant });
  return digest;
}

export interface AuditBytes {
  target: Uint8Array;
  reference: Uint8Array;
  candidates: Uint8Array;
  controls?: Uint8Array;
}

/** A queued audit over these inputs, created as the API creates one (through the AuditService). */
export async function createQueuedAudit(store: Store, blobs: BlobStore, bytes: AuditBytes, config: AuditConfigInput, tenant = "team-a"): Promise<string> {
  const inputs: AuditInputs = {
    target: await storeBlob(blobs, store, tenant, bytes.target),
    reference: await storeBlob(blobs, store, tenant, bytes.reference),
    candidates: await storeBlob(blobs, store, tenant, bytes.candidates),
    ...(bytes.controls ? { controls: await storeBlob(blobs, store, tenant, bytes.controls) } : {}),
  };
  const audits = new AuditService({ store, logger: pino({ level: "silent" }) });
  const { audit } = await audits.create({ tenant, config: AuditConfigSchema.parse(config), inputs });
  return audit.id;
}

/** Polls `check` every `everyMs` until it returns a value; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  return pollUntil<T | undefined | false>(check, { what, timeoutMs, everyMs }) as Promise<Exclude<T, undefined | null | false>>;
}
