/**
 * OCI registries have no standard webhook, so an `oci` watch polls its tag: the manifest digest
 * the tag points at (HEAD, `Docker-Content-Digest`) is the version; a digest not audited yet is
 * handed to `trigger` (which claims it once per watch: restarts and several replicas polling
 * start one audit per digest). Each watch is polled at its own interval, no faster than the
 * server's SSLMEM_OCI_POLL_MS.
 */
import { isSslmemError } from "../core/errors.ts";
import type { SourceContext } from "../sources/context.ts";
import { MANIFEST_ACCEPT, RegistryClient } from "../sources/oci-registry.ts";
import type { WatchRecord, WatchStore } from "../store/watch-types.ts";
import { OciSubjectSchema } from "./watch-spec.ts";

export interface OciPollerOptions {
  store: Pick<WatchStore, "listWatchesOfKind">;
  ctx: SourceContext;
  trigger: (watch: WatchRecord, version: string) => Promise<unknown>;
  pollMs: number;
  logger: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  now?: () => number;
}

/** The manifest digest a tag points at now. */
export async function digestOfTag(ctx: SourceContext, registry: string, repository: string, tag: string): Promise<string> {
  const client = new RegistryClient(ctx, registry, repository, "pull");
  const res = await client.request(`/v2/${repository}/manifests/${tag}`, { method: "HEAD", accept: MANIFEST_ACCEPT }, `the tag ${tag}`);
  await res.body?.cancel().catch(() => undefined);
  const digest = res.headers.get("docker-content-digest");
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`the registry gave no manifest digest for ${repository}:${tag}`);
  return digest;
}

export class OciPoller {
  readonly #o: OciPollerOptions;
  readonly #now: () => number;
  readonly #lastPolled = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: OciPollerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#round = this.pollOnce()
        .catch((err: unknown) => this.#o.logger.error({ err }, "the OCI poller failed a round"))
        .finally(() => {
          this.#round = undefined;
          if (!this.#stopped) this.#schedule(this.#o.pollMs);
        });
    }, ms);
    this.#timer.unref();
  }

  /** Polls every oci watch whose interval has passed. */
  async pollOnce(): Promise<void> {
    for (const watch of await this.#o.store.listWatchesOfKind("oci")) {
      if (this.#stopped) return;
      const subject = OciSubjectSchema.safeParse((watch.spec as { subject?: unknown }).subject);
      if (!subject.success) continue;
      const last = this.#lastPolled.get(watch.id);
      if (last !== undefined && this.#now() - last < subject.data.intervalSeconds * 1000) continue;
      this.#lastPolled.set(watch.id, this.#now());
      try {
        const digest = await digestOfTag(this.#o.ctx, subject.data.registry, subject.data.repository, subject.data.tag);
        await this.#o.trigger(watch, digest);
      } catch (err) {
        const fields = { watchId: watch.id, code: isSslmemError(err) ? err.code : undefined };
        if (isSslmemError(err)) this.#o.logger.warn(fields, "an OCI watch could not start its audit");
        else this.#o.logger.error({ ...fields, err }, "an OCI watch poll failed");
      }
    }
  }
}
