/**
 * Everything one audit needs open to measure points: its validated config, its point sets, both
 * encoders and the augmentation graph. The embedded runner opens a workspace per audit; a
 * scaled-mode worker runs many shards of the same audit in a row, so it keeps the workspace of
 * the audits it is working on open (WorkspaceCache) instead of re-reading archives and
 * re-building graphs for every shard.
 */
import { readFile } from "node:fs/promises";
import { AuditConfigSchema, type AuditConfig } from "../core/audit-config.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { PointSet } from "../data/point-set.ts";
import { openPointSet } from "../data/sources.ts";
import { prepareAudit, type PreparedAudit } from "../engine/audit.ts";
import type { EngineLogger } from "../engine/providers.ts";
import type { SessionCache } from "../engine/session.ts";
import type { BlobReader } from "../store/blob-store.ts";
import type { AuditRecord } from "../store/types.ts";
import type { EngineSettings } from "./engine-settings.ts";

export interface WorkspaceDeps extends EngineSettings {
  blobs: BlobReader;
  logger: EngineLogger;
  /** Encoder sessions shared across audits (CI re-audits against the same reference encoder). */
  cache: SessionCache;
}

export interface AuditWorkspace {
  readonly auditId: string;
  readonly config: AuditConfig;
  readonly candidates: PointSet;
  readonly controls?: PointSet;
  readonly prepared: PreparedAudit;
  /** Points of the audit: candidates then controls, one index space. */
  readonly total: number;
  close(): Promise<void>;
}

/** The readers' messages do not say which input they are about; the role is prefixed here. */
function inputError(e: unknown, role: "candidates" | "controls"): unknown {
  return isSslmemError(e) ? new SslmemError(e.code, `${role}: ${e.message}`, e.details, { cause: e.cause }) : e;
}

export async function openInput(digest: string, role: "candidates" | "controls", deps: Pick<WorkspaceDeps, "blobs" | "ingest" | "tmpDir">): Promise<PointSet> {
  if (!(await deps.blobs.has(digest))) {
    throw new SslmemError("blob_not_found", `the ${role} upload is no longer stored (purged by retention or deleted); upload it again`);
  }
  try {
    return await openPointSet(deps.blobs.pathFor(digest), deps.ingest, { tmpDir: deps.tmpDir });
  } catch (e) {
    throw inputError(e, role);
  }
}

async function readModel(blobs: BlobReader, digest: string, role: "target" | "reference"): Promise<Uint8Array> {
  if (!(await blobs.has(digest))) throw new SslmemError("blob_not_found", `the ${role} model upload is no longer stored; upload it again`);
  return new Uint8Array(await readFile(blobs.pathFor(digest)));
}

export function parseStoredConfig(audit: AuditRecord): AuditConfig {
  const parsed = AuditConfigSchema.safeParse(audit.config);
  if (!parsed.success) throw new SslmemError("invalid_config", "the stored audit config is not valid for this version of sslmem");
  return parsed.data;
}

/** Opens the inputs and prepares the engine; everything that can refuse the inputs happens here. */
export async function openAuditWorkspace(audit: AuditRecord, deps: WorkspaceDeps): Promise<AuditWorkspace> {
  const config = parseStoredConfig(audit);
  // A UnitMem audit has no reference: it runs elsewhere (execute-unitmem.ts), never through here.
  if (audit.kind !== "sslmem" || audit.inputs.reference === undefined) {
    throw new SslmemError("invalid_config", `a ${audit.kind} audit cannot be measured as an SSLMem audit (it needs a reference encoder)`);
  }
  const target = await readModel(deps.blobs, audit.inputs.target, "target");
  const reference = await readModel(deps.blobs, audit.inputs.reference, "reference");
  const candidates = await openInput(audit.inputs.candidates, "candidates", deps);
  let controls: PointSet | undefined;
  try {
    controls = audit.inputs.controls ? await openInput(audit.inputs.controls, "controls", deps) : undefined;
    const prepared = await prepareAudit({ target, reference, candidates, controls }, config, {
      providers: deps.providers,
      threads: deps.threads,
      memoryBudget: deps.memoryBudget,
      logger: deps.logger,
      cache: deps.cache,
    });
    let closing: Promise<void> | undefined;
    return {
      auditId: audit.id,
      config,
      candidates,
      ...(controls ? { controls } : {}),
      prepared,
      total: prepared.context.catalog.size,
      close: () =>
        (closing ??= (async () => {
          try {
            await prepared.release();
          } finally {
            await candidates.close();
            await controls?.close();
          }
        })()),
    };
  } catch (e) {
    await candidates.close();
    await controls?.close();
    throw e;
  }
}

/** A workspace borrowed from a cache; `release()` hands it back (exactly once). */
export interface WorkspaceLease {
  workspace: AuditWorkspace;
  release(): Promise<void>;
}

interface CacheEntry {
  opening: Promise<AuditWorkspace>;
  users: number;
  idleTimer?: NodeJS.Timeout;
}

/**
 * Keeps the workspaces of the audits a worker is busy with. An entry lives while a job uses it
 * and `idleMs` after the last one; at most `maxIdle` idle entries are kept (oldest closed first),
 * so a worker that moves on to other audits does not pin their archives and graphs.
 */
export class WorkspaceCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #idleMs: number;
  readonly #maxIdle: number;
  readonly #open: (audit: AuditRecord) => Promise<AuditWorkspace>;

  constructor(open: (audit: AuditRecord) => Promise<AuditWorkspace>, options: { idleMs?: number; maxIdle?: number } = {}) {
    this.#open = open;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#maxIdle = options.maxIdle ?? 1;
  }

  async lease(audit: AuditRecord): Promise<WorkspaceLease> {
    let entry = this.#entries.get(audit.id);
    if (!entry) {
      entry = { opening: this.#open(audit), users: 0 };
      const created = entry;
      this.#entries.set(audit.id, created);
      // A refused audit is not cached: every later shard must see the same error, freshly.
      created.opening.catch(() => {
        if (this.#entries.get(audit.id) === created) this.#entries.delete(audit.id);
      });
    }
    clearTimeout(entry.idleTimer);
    entry.users += 1;
    let workspace: AuditWorkspace;
    try {
      workspace = await entry.opening;
    } catch (e) {
      entry.users -= 1;
      throw e;
    }
    let released = false;
    const held = entry;
    return {
      workspace,
      release: async () => {
        if (released) return;
        released = true;
        held.users -= 1;
        if (held.users === 0 && this.#entries.get(audit.id) === held) {
          held.idleTimer = setTimeout(() => void this.#evict(audit.id, held), this.#idleMs);
          held.idleTimer.unref();
          await this.#trimIdle();
        }
      },
    };
  }

  /** Closes the workspace of an audit that ended (cancelled, failed, merged) once nobody uses it. */
  async forget(auditId: string): Promise<void> {
    const entry = this.#entries.get(auditId);
    if (entry && entry.users === 0) await this.#evict(auditId, entry);
  }

  /** Closes every idle workspace; used ones are closed when released (call after the jobs stopped). */
  async close(): Promise<void> {
    await Promise.all([...this.#entries].map(([id, entry]) => this.#evict(id, entry)));
  }

  async #trimIdle(): Promise<void> {
    const idle = [...this.#entries].filter(([, e]) => e.users === 0);
    const excess = idle.slice(0, Math.max(0, idle.length - this.#maxIdle));
    await Promise.all(excess.map(([id, entry]) => this.#evict(id, entry)));
  }

  async #evict(auditId: string, entry: CacheEntry): Promise<void> {
    if (this.#entries.get(auditId) !== entry || entry.users > 0) return;
    clearTimeout(entry.idleTimer);
    this.#entries.delete(auditId);
    const workspace = await entry.opening.catch(() => undefined);
    await workspace?.close();
  }
}
