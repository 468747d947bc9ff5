/**
 * The CLI's local mode: references among `--target/--reference/--candidates/--controls` are
 * resolved with the same resolvers as the service, without an allowlist (the user fetches for
 * themself; the address checks stay), into a blob cache under the user's cache folder. The result
 * is a local path per input, plus the identities for the report.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import type { AuditSources } from "../core/source-identity.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { openFileBlobStore } from "../store/blob-store.ts";
import { createSourceContext } from "./context.ts";
import { isSourceReference } from "./reference.ts";
import { KIND_OF_ROLE, resolveSource, type AuditInputRoleName } from "./resolve.ts";

export type LocalInputs = Partial<Record<AuditInputRoleName, string>>;

export function anyReference(inputs: LocalInputs): boolean {
  return Object.values(inputs).some((v) => v !== undefined && isSourceReference(v));
}

/** Default blob cache of the CLI: $SSLMEM_CACHE_DIR, else $XDG_CACHE_HOME/sslmem, else ~/.cache/sslmem. */
export function localCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.SSLMEM_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "sslmem");
}

export async function resolveLocalInputs(
  inputs: LocalInputs,
  o: { env: Readonly<Record<string, string | undefined>>; allowUnpinned?: boolean },
): Promise<{ paths: LocalInputs; sources: AuditSources }> {
  const paths: LocalInputs = { ...inputs };
  const sources: AuditSources = {};
  if (!anyReference(inputs)) return { paths, sources };
  const config = loadConfig(o.env);
  const dir = localCacheDir(o.env);
  const blobs = await openFileBlobStore(join(dir, "blobs"));
  const ctx = createSourceContext({ blobs, cacheDir: join(dir, "source-cache"), maxBytes: config.limits.maxBlobBytes, sources: config.sources, mode: "local" });
  for (const role of ["target", "reference", "candidates", "controls"] as const) {
    const value = inputs[role];
    if (value === undefined || !isSourceReference(value)) continue;
    try {
      const id = await resolveSource(ctx, value, { kind: KIND_OF_ROLE[role], allowUnpinned: o.allowUnpinned ?? false });
      sources[role] = id;
      paths[role] = blobs.pathFor(id.digest);
    } catch (e) {
      if (isSslmemError(e)) throw new SslmemError(e.code, `--${role} '${value}': ${e.message}`, e.details);
      throw e;
    }
  }
  return { paths, sources };
}
