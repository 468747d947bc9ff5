/**
 * What the API process and the workers agree on in scaled mode: the BullMQ queue, its job names,
 * job ids and data, the Redis connection, and the pub/sub channel for cancel and event signals.
 *
 * One audit is three kinds of jobs in one queue:
 *   plan   — added by the API on submit; a worker moves the audit to `running`, opens the inputs
 *            (refusing bad ones once), counts the points and adds the flow below;
 *   shard  — one per range of points; any worker measures it; children of…
 *   merge  — the flow's parent, which BullMQ runs once every shard completed: normalization,
 *            calibration and flags need the whole set.
 * Job ids derive from the audit id, so adding a job twice (two API replicas resuming, a plan
 * retried after its worker died) is a no-op instead of duplicated work.
 */
import { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { SslmemError } from "../core/errors.ts";

export const JOB_NAMES = { plan: "plan", shard: "shard", merge: "merge" } as const;
export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

export interface PlanJobData {
  auditId: string;
}

export interface ShardJobData {
  auditId: string;
  shard: number;
  from: number;
  to: number;
}

export interface MergeJobData {
  auditId: string;
  shards: number;
  total: number;
}

export type QueueJobData = PlanJobData | ShardJobData | MergeJobData;

// BullMQ refuses custom ids with ':' (its key separator); '-' cannot occur in an audit id.
export const planJobId = (auditId: string) => `plan-${auditId}`;
export const mergeJobId = (auditId: string) => `merge-${auditId}`;
export const shardJobId = (auditId: string, shard: number) => `shard-${auditId}-${shard}`;

/** The audit a job id belongs to (undefined for an id that is not one of ours). */
export function auditIdOfJob(jobId: string | undefined): string | undefined {
  return /^(?:plan|merge|shard)-(aud_[0-9A-Za-z]+)(?:-\d+)?$/.exec(jobId ?? "")?.[1];
}

export interface QueueSettings {
  url: string;
  name: string;
  prefix: string;
  shardSize: number;
  lockMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  attempts: number;
  backoffMs: number;
}

export function queueSettings(config: Pick<Config, "queueUrl" | "shardSize" | "queue">): QueueSettings {
  if (!config.queueUrl) throw new SslmemError("invalid_config", "SSLMEM_QUEUE: set it to the Redis URL of the job queue, e.g. redis://redis:6379");
  return { url: config.queueUrl, shardSize: config.shardSize, ...config.queue };
}

/**
 * A Redis connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ requires of worker
 * connections (a blocking read must survive a reconnect instead of failing the job loop).
 */
export function redisConnection(settings: Pick<QueueSettings, "url">, name: string): Redis {
  return new Redis(settings.url, { maxRetriesPerRequest: null, connectionName: `sslmem-${name}` });
}

/** The pub/sub channel of one deployment's queue. */
export function signalChannel(settings: Pick<QueueSettings, "prefix" | "name">): string {
  return `${settings.prefix}:${settings.name}:sslmem-signals`;
}

/**
 * `cancel`: the API cancelled the audit in the store; workers abort its running jobs at once
 * (they would notice at their next batch anyway). `event`: a worker appended an audit event;
 * API processes wake that audit's SSE streams (which otherwise poll the store).
 */
export interface QueueSignal {
  kind: "cancel" | "event";
  auditId: string;
}

export function parseSignal(message: string): QueueSignal | undefined {
  try {
    const v = JSON.parse(message) as Partial<QueueSignal>;
    if ((v.kind === "cancel" || v.kind === "event") && typeof v.auditId === "string") return { kind: v.kind, auditId: v.auditId };
  } catch {
    // not ours: ignore
  }
  return undefined;
}

/** Retries with exponential backoff; finished jobs kept a while for inspection, then dropped. */
export function jobOptions(settings: QueueSettings) {
  return {
    attempts: settings.attempts,
    backoff: { type: "exponential" as const, delay: settings.backoffMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}
