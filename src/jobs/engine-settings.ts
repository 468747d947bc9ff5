/**
 * What the engine needs from the configuration, built once from Config and handed to whichever
 * executor runs it (inline, on the engine thread, on a queue worker).
 */
import type { Config } from "../config.ts";
import type { IngestLimits } from "../data/limits.ts";
import type { ProviderPreference } from "../engine/providers.ts";
import type { SessionCacheLimits } from "../engine/session.ts";
import { dataDirLayout } from "../store/data-dir.ts";

export interface EngineSettings {
  providers: ProviderPreference;
  /** ONNX Runtime intra-op threads; absent = ORT's default. */
  threads?: number;
  /** Bytes an audit may keep resident; the engine plans its batches to it (engine/memory.ts). */
  memoryBudget?: number;
  ingest: Partial<IngestLimits>;
  /** Where .tar.gz uploads are decompressed while an audit runs. */
  tmpDir: string;
  /** Encoder sessions kept between audits (LRU); default: engine/session.ts. */
  sessionCache?: SessionCacheLimits;
}

export function engineSettings(config: Pick<Config, "providers" | "threads" | "ingest" | "dataDir" | "limits" | "memoryBudget">): EngineSettings {
  return {
    // Config checks the names' form only (it must not load ONNX Runtime); the engine skips a name
    // its ONNX Runtime build lacks and fails when none is left (engine/providers.ts).
    providers: config.providers as ProviderPreference,
    ...(config.threads !== undefined ? { threads: config.threads } : {}),
    memoryBudget: config.memoryBudget,
    ingest: { ...config.ingest },
    tmpDir: dataDirLayout(config.dataDir).tmp,
    sessionCache: { maxSessions: config.limits.sessionCacheMax, maxBytes: config.limits.sessionCacheBytes },
  };
}
