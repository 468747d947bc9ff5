/**
 * What every resolver needs: where bytes go, how they are fetched, and the registries' settings.
 * Built once per process (server) or per command (CLI) by `createSourceContext`.
 */
import { join } from "node:path";
import type { SourcesConfig } from "../config.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { createGuardedFetch, type Resolver, type SourceFetch } from "./guarded-fetch.ts";
import { AddressPolicy, parseHostPattern, type HostPattern } from "./host-policy.ts";
import { FileResolutionCache, type ResolutionCache } from "./resolution-cache.ts";

export interface SourceContext {
  readonly blobs: BlobStore;
  readonly fetch: SourceFetch;
  readonly cache: ResolutionCache;
  /** Largest artifact accepted (the blob upload limit). */
  readonly maxBytes: number;
  readonly mlflow?: { uri: URL; token?: string };
  readonly hf: { endpoint: string; token?: string };
  /** Registries spoken to over plain http. */
  readonly ociPlainHttp: readonly HostPattern[];
}

export interface SourceContextOptions {
  blobs: BlobStore;
  /** Where resolution entries live (next to the blobs). */
  cacheDir: string;
  maxBytes: number;
  sources: SourcesConfig;
  /** "service": the allowlist applies; "local": the CLI fetches from any host (address checks stay). */
  mode: "service" | "local";
  /** Tests: DNS answers under their control. */
  resolve?: Resolver;
}

const LOOPBACK_REGISTRIES = ["localhost:*", "127.0.0.1:*", "[::1]:*"];

export function createSourceContext(o: SourceContextOptions): SourceContext {
  const s = o.sources;
  const allow = [...s.allow];
  // The operator configured these endpoints: they are trusted like an allowlist entry.
  if (s.mlflowUri) allow.push(new URL(s.mlflowUri).host);
  allow.push(new URL(s.hfEndpoint).host);
  const fetch = createGuardedFetch({
    policy: { allow: o.mode === "local" ? null : allow.map(parseHostPattern), addresses: new AddressPolicy(s.allowAddresses) },
    credentials: s.credentials.map((c) => ({ host: parseHostPattern(c.host), header: c.header, value: c.value })),
    timeoutMs: s.timeoutMs,
    ...(o.resolve ? { resolve: o.resolve } : {}),
  });
  return {
    blobs: o.blobs,
    fetch,
    cache: new FileResolutionCache(o.cacheDir),
    maxBytes: o.maxBytes,
    ...(s.mlflowUri ? { mlflow: { uri: new URL(s.mlflowUri), ...(s.mlflowToken ? { token: s.mlflowToken } : {}) } } : {}),
    hf: { endpoint: s.hfEndpoint.replace(/\/+$/, ""), ...(s.hfToken ? { token: s.hfToken } : {}) },
    ociPlainHttp: [...LOOPBACK_REGISTRIES, ...s.ociPlainHttp].map(parseHostPattern),
  };
}

/** The resolution cache's folder beside a blob directory. */
export function sourceCacheDir(dataDir: string): string {
  return join(dataDir, "source-cache");
}
