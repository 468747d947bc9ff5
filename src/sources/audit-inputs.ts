/**
 * The service side of references: an audit submission's `target`, `reference`, `candidates` and
 * `controls` may each be a blob digest (uploaded before) or a reference, resolved here once, at
 * submission. Resolved blobs are recorded as the tenant's (as an upload would be), and the
 * identities travel with the audit as its `sources` event (written by AuditService.create, with
 * the audit), from which the report takes them.
 */
import type { Config } from "../config.ts";
import { AuditSourcesSchema, type AuditSources } from "../core/source-identity.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { AuditInputs, Store } from "../store/types.ts";
import { createSourceContext, sourceCacheDir, type SourceContext } from "./context.ts";
import { isSourceReference } from "./reference.ts";
import { KIND_OF_ROLE, resolveSource, type AuditInputRoleName } from "./resolve.ts";

export const SOURCES_EVENT = "sources";

export interface SourceServices {
  config: Pick<Config, "dataDir" | "limits" | "sources">;
  blobs: BlobStore;
  store: Pick<Store, "recordBlob">;
}

const contexts = new WeakMap<SourceServices, SourceContext>();

function contextFor(s: SourceServices): SourceContext {
  let ctx = contexts.get(s);
  if (!ctx) {
    ctx = createSourceContext({
      blobs: s.blobs,
      cacheDir: sourceCacheDir(s.config.dataDir),
      maxBytes: s.config.limits.maxBlobBytes,
      sources: s.config.sources,
      mode: "service",
    });
    contexts.set(s, ctx);
  }
  return ctx;
}

const ROLES: readonly AuditInputRoleName[] = ["target", "reference", "candidates", "controls"];

/**
 * Replaces every reference among the inputs by the digest it resolved to. Errors name the field
 * (`errors[].path`), like validation errors; nothing is recorded for the tenant unless all resolve.
 */
export async function resolveAuditInputs(
  s: SourceServices,
  tenant: string,
  given: AuditInputs,
  o: { allowUnpinned?: boolean } = {},
): Promise<{ inputs: AuditInputs; sources: AuditSources }> {
  const inputs: AuditInputs = { ...given };
  const sources: AuditSources = {};
  for (const role of ROLES) {
    const value = given[role];
    if (value === undefined || !isSourceReference(value)) continue;
    try {
      sources[role] = await resolveSource(contextFor(s), value, { kind: KIND_OF_ROLE[role], allowUnpinned: o.allowUnpinned ?? false });
    } catch (e) {
      if (!isSslmemError(e)) throw e;
      throw new SslmemError(e.code, `${role}: ${e.message}`, { ...e.details, errors: [{ path: role, message: e.message, location: "body" }] });
    }
  }
  for (const role of ROLES) {
    const id = sources[role];
    if (!id) continue;
    await s.store.recordBlob({ digest: id.digest, size: id.size, tenant, kind: role });
    inputs[role] = id.digest;
  }
  return { inputs, sources };
}

export function hasSources(sources: AuditSources): boolean {
  return Object.keys(sources).length > 0;
}

/** The identities recorded at submission, for the report; undefined when no input was a reference. */
export async function readAuditSources(store: Pick<Store, "readEvents">, auditId: string): Promise<AuditSources | undefined> {
  // The event is among the first ones; pages are walked in case a writer got in before it.
  for (let after = 0; ; ) {
    const events = await store.readEvents(auditId, after, 200);
    const event = events.find((e) => e.type === SOURCES_EVENT);
    if (event) {
      const parsed = AuditSourcesSchema.safeParse(event.data);
      return parsed.success ? parsed.data : undefined;
    }
    if (events.length < 200) return undefined;
    after = events[events.length - 1].seq;
  }
}
