/**
 * The one configuration object of the service. Values come from the environment (SSLMEM_*) with
 * `overrides` (CLI flags, tests) on top, and are validated once here; nothing else reads
 * process.env. `loadConfig` returns or throws `invalid_config` — it never exits the process, so a
 * test can build as many configurations as it likes.
 */
import { z } from "zod";
import { SslmemError } from "./core/errors.ts";
import { DEFAULT_MEMORY_BUDGET, parseMemorySize } from "./engine/memory.ts";
import { resolveIngestLimits, type IngestLimits } from "./data/limits.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const positiveNumber = z.coerce.number().finite().positive();

const LimitsSchema = z
  .object({
    /** Largest blob (model, archive) one upload may carry; enforced while streaming. */
    maxBlobBytes: int(1).default(4 * GiB),
    /** Largest JSON request body. */
    maxJsonBytes: int(1024, 64 * MiB).default(1 * MiB),
    /** Largest `config` part of a multipart submission. */
    maxConfigPartBytes: int(1024, 16 * MiB).default(256 * 1024),
    /** Audits waiting to run; beyond it a submission gets 429 `queue_full`. */
    maxQueue: int(1).default(100),
    /** Audits one tenant may have waiting (its share of maxQueue); beyond it 429 `queue_full`. */
    maxQueuePerTenant: int(1).default(25),
    /** Uploads (blob PUTs and multipart submissions) one tenant may have in flight. */
    maxConcurrentUploadsPerTenant: int(1).default(4),
    /** Longest pause between two chunks of a request body before it is abandoned (408). */
    bodyTimeoutMs: int(100).default(30_000),
    /** Node's limit on receiving one whole request, headers and body (slow-upload defence). */
    requestTimeoutMs: int(0).default(60 * 60_000),
    /** Node's limit on receiving the request headers. */
    headersTimeoutMs: int(1000).default(60_000),
    keepAliveTimeoutMs: int(0).default(5_000),
    /** Server-side cap on `config.views` (the schema allows up to 1024). */
    maxViews: int(1, 1024).default(256),
    /** Retry-After sent with `queue_full`. */
    queueRetryAfterSeconds: int(1, 3600).default(30),
    /** Shed requests with 503 while the event loop lags more than this (0 = never). */
    shedEventLoopLagMs: int(0).default(0),
    /** Bytes of blobs one tenant may own (0 = no quota); beyond it `quota_exceeded`. */
    tenantStorageBytes: int(0).default(100 * GiB),
    /** Audits one tenant may keep, each LayerMem layer of an audit counted as one more (0 = no quota); beyond it `quota_exceeded`. */
    maxAuditsPerTenant: int(0).default(10_000),
    /** Rendered reports kept in memory (report-cache.ts), bytes. */
    reportCacheBytes: int(0).default(64 * MiB),
    /** Different reports rendered at once; beyond it a report request gets 429 `rate_limited`. */
    maxConcurrentReportRenders: int(1, 64).default(2),
    /** Server-side cap on `config.batchSize` (the schema allows up to 4096). */
    maxBatchSize: int(1, 4096).default(64),
    /** Wall time of one audit, from start to report (`audit_timeout`). */
    auditTimeoutMs: int(1000).default(24 * 3_600_000),
    /** Wall time of one batch, per point of the batch (`audit_timeout`); the first batch also loads the models. */
    pointTimeoutMs: int(10).default(120_000),
    /** Resident memory of the engine process; above it the audit fails (`resource_exhausted`). */
    engineMemoryBytes: int(64 * MiB).default(8 * GiB),
    /** JS-heap limit of the engine process (--max-old-space-size), MiB. */
    engineHeapMiB: int(64).default(2048),
    /** An engine process without work exits after this long (its model memory with it). */
    engineIdleMs: int(0).default(60_000),
    /** Encoder sessions the engine keeps between audits (LRU), by count and by model bytes. */
    sessionCacheMax: int(0, 64).default(4),
    sessionCacheBytes: int(0).default(1 * GiB),
    /** Process deaths while one audit ran after which it fails with `crash_loop` instead of resuming. */
    maxAuditCrashes: int(1, 100).default(2),
  })
  .strict();

/** BullMQ settings of the scaled mode; the defaults suit production, tests shorten the timings. */
const QueueSchema = z
  .object({
    /** BullMQ queue name and Redis key prefix: two deployments on one Redis must differ in one. */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, '_', '.', '-'").default("sslmem"),
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, '_', '.', '-'").default("bull"),
    /** A worker's lock on a job; a worker that dies loses it after this long and the job is retried. */
    lockMs: int(100).default(30_000),
    /** How often workers look for jobs whose lock expired (stalled: their worker died). */
    stalledIntervalMs: int(100).default(30_000),
    /** Times a job may stall (its worker killed) before it fails. */
    maxStalledCount: int(0, 100).default(2),
    /** Attempts of a job that fails with a transient error (backoff doubles from backoffMs). */
    attempts: int(1, 100).default(5),
    backoffMs: int(1).default(2_000),
  })
  .strict();

/** A comma-separated list from the environment, or an array from overrides. */
const list = (item: z.ZodString) =>
  z.preprocess((v) => (typeof v === "string" ? v.split(",").map((x) => x.trim()).filter(Boolean) : v), z.array(item));

/** `host`, `*.domain`, with an optional `:port` or `:*`. */
const HostPatternSchema = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?$|^\[[0-9A-Fa-f:.]+\](:(\d{1,5}|\*))?$/, "a host pattern: host, *.domain, host:port or host:*");

const SourceCredentialSchema = z
  .object({
    /** Host pattern the header is sent to (and to nothing else, not even after a redirect). */
    host: HostPatternSchema,
    header: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, "an HTTP header name"),
    value: z.string().min(1),
  })
  .strict();

/**
 * Model and data references (https, MLflow, Hugging Face, OCI): where the service may fetch from
 * and with which credentials. Credentials live only here, never in an audit record or a log line.
 */
const SourcesSchema = z
  .object({
    /** Hosts the service may fetch from (SSRF allowlist); empty = references are refused. */
    allow: list(HostPatternSchema).default([]),
    /** Address ranges (CIDR) exempt from the always-refused ones (link-local, metadata, unspecified). */
    allowAddresses: list(z.string().regex(/^[0-9A-Fa-f:.]+\/\d{1,3}$/, "a CIDR range, e.g. 169.254.0.0/16")).default([]),
    /** JSON array of {host, header, value}: a header sent to the hosts matching `host`. */
    credentials: z
      .preprocess((v) => {
        if (typeof v !== "string") return v;
        try {
          return JSON.parse(v);
        } catch {
          return v; // the array schema reports it
        }
      }, z.array(SourceCredentialSchema))
      .default([]),
    /** A source that sends nothing for this long is abandoned (`source_unreachable`). */
    timeoutMs: int(100).default(30_000),
    /** Registries spoken to over plain http (besides localhost, 127.0.0.1 and [::1]). */
    ociPlainHttp: list(HostPatternSchema).default([]),
    /** MLflow tracking server of `models:/` references. */
    mlflowUri: z.url({ protocol: /^https?$/ }).optional(),
    mlflowToken: z.string().min(1).optional(),
    /** Hugging Face Hub endpoint of `hf://` references. */
    hfEndpoint: z.url({ protocol: /^https?$/ }).default("https://huggingface.co"),
    hfToken: z.string().min(1).optional(),
  })
  .strict();

export type SourcesConfig = z.output<typeof SourcesSchema>;

/**
 * Signed completion callbacks (Standard Webhooks). A tenant may pass `callbackUrl` only when it has
 * a secret here; the URL's host must be on the sources allowlist (same SSRF rules).
 */
const CallbacksSchema = z
  .object({
    /** JSON object tenant → secret (`whsec_` + base64, as the Standard Webhooks libraries expect). */
    secrets: z
      .preprocess((v) => {
        if (typeof v !== "string") return v;
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      }, z.record(z.string().min(1), z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, "a secret is whsec_ followed by base64")))
      .default({}),
  })
  .strict();

export type CallbacksConfig = z.output<typeof CallbacksSchema>;

/**
 * The outbox (src/outbox/dispatcher.ts): completion callbacks and verdict write-backs, delivered
 * once their audit has ended, retried with doubling pauses, surviving restarts.
 */
const OutboxSchema = z
  .object({
    /** Attempts per delivery, the first included. */
    attempts: int(1, 50).default(8),
    /** Pause after the first failed attempt; doubles per attempt up to maxBackoffMs. */
    backoffMs: int(1).default(2_000),
    maxBackoffMs: int(1).default(600_000),
    /** How often due deliveries are looked for. */
    pollMs: int(10).default(1_000),
    /** How long one process holds a claimed delivery before another may retry it. */
    leaseMs: int(1_000).default(120_000),
  })
  .strict();

export type OutboxConfig = z.output<typeof OutboxSchema>;

/** Watches (src/watches/): registry events that start audits, and where verdicts link to. */
const WatchesSchema = z
  .object({
    /** How old (or how far ahead) a signed MLflow webhook's timestamp may be, in seconds. */
    toleranceSeconds: int(1, 3_600).default(300),
    /** How often OCI watches poll their tags (the shortest interval a watch may ask for). */
    ociPollMs: int(1_000).default(60_000),
    /** The service's public base URL, for report links written back (sslmem.report). */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

export type WatchesConfig = z.output<typeof WatchesSchema>;

const IngestOverridesSchema = z
  .object({
    maxPixels: int(1).optional(),
    maxPoints: int(1).optional(),
    maxArchiveEntries: int(1).optional(),
    maxExpandedBytes: int(1).optional(),
    maxExpansionRatio: z.coerce.number().finite().min(1).optional(),
    maxFileBytes: int(1).optional(),
    maxPointIdBytes: int(16, 1024 * 1024).optional(),
    maxBatchPixels: int(1).optional(),
  })
  .strict();

const ProvidersSchema = z.preprocess(
  (v) => (typeof v === "string" ? (v.trim() === "auto" ? "auto" : v.split(",").map((s) => s.trim())) : v),
  // Provider names are checked by the engine (ProviderPreferenceSchema); importing it here would
  // load ONNX Runtime into every process that only reads its configuration.
  z.union([z.literal("auto"), z.array(z.string().regex(/^[a-z0-9]+$/, "provider names are lowercase, e.g. cuda,cpu")).min(1)]),
);

export const ConfigSchema = z
  .object({
    dataDir: z.string().min(1).default("./data"),
    /** PostgreSQL URL (scaled mode); unset = the embedded SQLite file under dataDir. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// URL")
      .optional(),
    host: z.string().min(1).default("127.0.0.1"),
    port: int(0, 65535).default(8080),
    auth: z.enum(["enabled", "disabled"]).default("enabled"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    providers: ProvidersSchema.default("auto"),
    /** ONNX Runtime intra-op threads; undefined = ORT's default. */
    threads: int(1, 1024).optional(),
    /**
     * Resident memory an audit may use, e.g. "1.5G", "800M" (binary units); batches are sized to it
     * from a measured probe batch (src/engine/memory.ts).
     */
    memoryBudget: z
      .union([z.number(), z.string()])
      .transform((v, ctx) => {
        const bytes = typeof v === "number" ? v : parseMemorySize(v);
        if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < 64 * 2 ** 20) {
          ctx.addIssue({ code: "custom", message: "must be a size of at least 64M, e.g. 1.5G or 800M" });
          return z.NEVER;
        }
        return bytes;
      })
      .default(DEFAULT_MEMORY_BUDGET),
    /**
     * Where the engine measures, in `serve` and in `worker`: "worker" (a child process,
     * jobs/engine-session.ts: the HTTP event loop or queue worker stays responsive, and the
     * engine's budgets end it with a signal) or "main" (inline, for debugging and for measuring
     * the difference; no deadline or memory ceiling applies).
     */
    engineThread: z.enum(["worker", "main"]).default("worker"),
    /** Purge candidate/controls blobs of audits finished more than N hours ago (0 = never). */
    retentionHours: z.coerce.number().finite().min(0).default(0),
    /** How often the retention sweep runs. */
    retentionSweepSeconds: positiveNumber.default(600),
    /** How long SIGTERM waits for the running audit to checkpoint and requests to finish. */
    shutdownGraceMs: int(0).default(20_000),
    /** SSE comment sent when no event arrived for this long (keeps proxies from closing). */
    sseHeartbeatMs: int(10).default(15_000),
    /** SSE re-reads the store at least this often (another process may append events). */
    ssePollMs: int(10).default(1_000),
    /** Scaled mode: the BullMQ queue's Redis (redis://…). Unset: the embedded in-process runner. */
    queueUrl: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").optional(),
    /** Scaled mode: points per shard (one queue job each; any worker may run it). */
    shardSize: int(1).default(256),
    /** `sslmem worker`: port of /livez, /readyz and /metrics. */
    workerHealthPort: int(0, 65535).default(9090),
    /** `sslmem worker`: address of the health server (all interfaces, for the kubelet's probes). */
    workerHealthHost: z.string().min(1).default("0.0.0.0"),
    /** `sslmem worker`: jobs run at once; 1 per device. */
    workerConcurrency: int(1, 64).default(1),
    queue: QueueSchema.prefault({}),
    limits: LimitsSchema.prefault({}),
    ingest: IngestOverridesSchema.prefault({}),
    sources: SourcesSchema.prefault({}),
    callbacks: CallbacksSchema.prefault({}),
    outbox: OutboxSchema.prefault({}),
    watches: WatchesSchema.prefault({}),
  })
  .strict();

type ParsedConfig = z.output<typeof ConfigSchema>;

export type Config = Omit<ParsedConfig, "ingest"> & {
  /** Candidate ingestion limits (defaults from src/data/limits.ts with the overrides applied). */
  ingest: IngestLimits;
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigOverrides = DeepPartial<z.input<typeof ConfigSchema>>;

/** Config field (dotted path) → the environment variable that sets it. */
export const CONFIG_ENV: Readonly<Record<string, string>> = {
  dataDir: "SSLMEM_DATA_DIR",
  databaseUrl: "SSLMEM_DATABASE_URL",
  host: "SSLMEM_HOST",
  port: "SSLMEM_PORT",
  auth: "SSLMEM_AUTH",
  logLevel: "SSLMEM_LOG_LEVEL",
  providers: "SSLMEM_PROVIDERS",
  threads: "SSLMEM_THREADS",
  memoryBudget: "SSLMEM_MEMORY_BUDGET",
  engineThread: "SSLMEM_ENGINE_THREAD",
  retentionHours: "SSLMEM_RETENTION_HOURS",
  retentionSweepSeconds: "SSLMEM_RETENTION_SWEEP_SECONDS",
  shutdownGraceMs: "SSLMEM_SHUTDOWN_GRACE_MS",
  sseHeartbeatMs: "SSLMEM_SSE_HEARTBEAT_MS",
  ssePollMs: "SSLMEM_SSE_POLL_MS",
  queueUrl: "SSLMEM_QUEUE",
  shardSize: "SSLMEM_SHARD_SIZE",
  workerHealthPort: "SSLMEM_WORKER_HEALTH_PORT",
  workerHealthHost: "SSLMEM_WORKER_HEALTH_HOST",
  workerConcurrency: "SSLMEM_WORKER_CONCURRENCY",
  "queue.name": "SSLMEM_QUEUE_NAME",
  "queue.prefix": "SSLMEM_QUEUE_PREFIX",
  "queue.lockMs": "SSLMEM_QUEUE_LOCK_MS",
  "queue.stalledIntervalMs": "SSLMEM_QUEUE_STALLED_INTERVAL_MS",
  "queue.maxStalledCount": "SSLMEM_QUEUE_MAX_STALLED",
  "queue.attempts": "SSLMEM_QUEUE_ATTEMPTS",
  "queue.backoffMs": "SSLMEM_QUEUE_BACKOFF_MS",
  "limits.maxBlobBytes": "SSLMEM_MAX_BLOB_BYTES",
  "limits.maxJsonBytes": "SSLMEM_MAX_JSON_BYTES",
  "limits.maxConfigPartBytes": "SSLMEM_MAX_CONFIG_PART_BYTES",
  "limits.maxQueue": "SSLMEM_MAX_QUEUE",
  "limits.maxQueuePerTenant": "SSLMEM_MAX_QUEUE_PER_TENANT",
  "limits.maxConcurrentUploadsPerTenant": "SSLMEM_MAX_CONCURRENT_UPLOADS_PER_TENANT",
  "limits.bodyTimeoutMs": "SSLMEM_BODY_TIMEOUT_MS",
  "limits.requestTimeoutMs": "SSLMEM_REQUEST_TIMEOUT_MS",
  "limits.headersTimeoutMs": "SSLMEM_HEADERS_TIMEOUT_MS",
  "limits.keepAliveTimeoutMs": "SSLMEM_KEEP_ALIVE_TIMEOUT_MS",
  "limits.maxViews": "SSLMEM_MAX_VIEWS",
  "limits.queueRetryAfterSeconds": "SSLMEM_QUEUE_RETRY_AFTER_SECONDS",
  "limits.shedEventLoopLagMs": "SSLMEM_SHED_LAG_MS",
  "limits.maxBatchSize": "SSLMEM_MAX_BATCH_SIZE",
  "limits.reportCacheBytes": "SSLMEM_REPORT_CACHE_BYTES",
  "limits.tenantStorageBytes": "SSLMEM_TENANT_STORAGE_BYTES",
  "limits.maxAuditsPerTenant": "SSLMEM_MAX_AUDITS_PER_TENANT",
  "limits.maxConcurrentReportRenders": "SSLMEM_MAX_CONCURRENT_REPORT_RENDERS",
  "limits.auditTimeoutMs": "SSLMEM_AUDIT_TIMEOUT_MS",
  "limits.pointTimeoutMs": "SSLMEM_POINT_TIMEOUT_MS",
  "limits.engineMemoryBytes": "SSLMEM_ENGINE_MEMORY_BYTES",
  "limits.engineHeapMiB": "SSLMEM_ENGINE_HEAP_MIB",
  "limits.engineIdleMs": "SSLMEM_ENGINE_IDLE_MS",
  "limits.sessionCacheMax": "SSLMEM_SESSION_CACHE_MAX",
  "limits.sessionCacheBytes": "SSLMEM_SESSION_CACHE_BYTES",
  "limits.maxAuditCrashes": "SSLMEM_MAX_AUDIT_CRASHES",
  "ingest.maxPixels": "SSLMEM_MAX_PIXELS",
  "ingest.maxPoints": "SSLMEM_MAX_POINTS",
  "ingest.maxArchiveEntries": "SSLMEM_MAX_ARCHIVE_ENTRIES",
  "ingest.maxExpandedBytes": "SSLMEM_MAX_EXPANDED_BYTES",
  "ingest.maxExpansionRatio": "SSLMEM_MAX_EXPANSION_RATIO",
  "ingest.maxFileBytes": "SSLMEM_MAX_FILE_BYTES",
  "ingest.maxPointIdBytes": "SSLMEM_MAX_POINT_ID_BYTES",
  "ingest.maxBatchPixels": "SSLMEM_MAX_BATCH_PIXELS",
  "sources.allow": "SSLMEM_SOURCE_ALLOW",
  "sources.allowAddresses": "SSLMEM_SOURCE_ALLOW_ADDRESSES",
  "sources.credentials": "SSLMEM_SOURCE_CREDENTIALS",
  "sources.timeoutMs": "SSLMEM_SOURCE_TIMEOUT_MS",
  "sources.ociPlainHttp": "SSLMEM_OCI_PLAIN_HTTP",
  "sources.mlflowUri": "SSLMEM_MLFLOW_URI",
  "sources.mlflowToken": "SSLMEM_MLFLOW_TOKEN",
  "sources.hfEndpoint": "SSLMEM_HF_ENDPOINT",
  "sources.hfToken": "SSLMEM_HF_TOKEN",
  "callbacks.secrets": "SSLMEM_CALLBACK_SECRETS",
  "outbox.attempts": "SSLMEM_OUTBOX_ATTEMPTS",
  "outbox.backoffMs": "SSLMEM_OUTBOX_BACKOFF_MS",
  "outbox.maxBackoffMs": "SSLMEM_OUTBOX_MAX_BACKOFF_MS",
  "outbox.pollMs": "SSLMEM_OUTBOX_POLL_MS",
  "outbox.leaseMs": "SSLMEM_OUTBOX_LEASE_MS",
  "watches.toleranceSeconds": "SSLMEM_WEBHOOK_TOLERANCE_SECONDS",
  "watches.ociPollMs": "SSLMEM_OCI_POLL_MS",
  "watches.publicUrl": "SSLMEM_PUBLIC_URL",
};

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

function setPath(target: Plain, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys[keys.length - 1]] = value;
}

function merge(base: Plain, top: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(top)) {
    if (v === undefined) continue;
    out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
  }
  return out;
}

/**
 * Builds the configuration from `env` (normally process.env, passed by the caller) and
 * `overrides`. Empty variables count as unset. Throws `invalid_config` naming the variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = {}, overrides: ConfigOverrides = {}): Config {
  const fromEnv: Plain = {};
  for (const [path, name] of Object.entries(CONFIG_ENV)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== "") setPath(fromEnv, path, value.trim());
  }
  const parsed = ConfigSchema.safeParse(merge(fromEnv, overrides as Plain));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.join(".");
    // The variable of the field, or of its nearest parent (e.g. providers.0 → SSLMEM_PROVIDERS).
    const keys = issue.path.map(String);
    let name = path || "configuration";
    for (let n = keys.length; n > 0; n--) {
      const env = CONFIG_ENV[keys.slice(0, n).join(".")];
      if (env) {
        name = env;
        break;
      }
    }
    throw new SslmemError("invalid_config", `${name}: ${issue.message}`, { field: path });
  }
  const { ingest, ...rest } = parsed.data;
  const ingestOverrides = Object.fromEntries(Object.entries(ingest).filter(([, v]) => v !== undefined));
  return { ...rest, ingest: resolveIngestLimits(ingestOverrides) };
}
