/**
 * The background half of the registry integration, wired once for the server (server.ts) and
 * the test harness alike: the outbox dispatcher with its senders (completion callbacks, MLflow
 * and OCI verdict write-backs) and the OCI watch poller. Deliveries and polls speak to registries
 * through the same guarded fetch and settings as reference resolution.
 */
import { CALLBACK_KIND, callbackSender } from "./callbacks/completion-callback.ts";
import type { Config } from "./config.ts";
import type { AppServices } from "./http/context.ts";
import { startWatchAudit } from "./http/watch-trigger.ts";
import { OutboxDispatcher } from "./outbox/dispatcher.ts";
import { createSourceContext, sourceCacheDir } from "./sources/context.ts";
import type { Resolver } from "./sources/guarded-fetch.ts";
import type { BlobStore } from "./store/blob-store.ts";
import type { Store } from "./store/types.ts";
import { OciPoller } from "./watches/oci-poller.ts";
import { HF_DISCUSSION, hfDiscussionSender } from "./writeback/hf-discussion.ts";
import { MLFLOW_VERDICT, OCI_VERDICT, mlflowVerdictSender, ociVerdictSender } from "./writeback/writeback-senders.ts";

export interface RegistryIntegration {
  /** Given to the app (AppDeps.outbox): woken when a delivery is written. */
  outbox: OutboxDispatcher;
  /** Starts dispatching and polling; `services` are the app's (watch polls submit through them). */
  start(services: AppServices): void;
  stop(): Promise<void>;
}

export function registryIntegration(o: {
  config: Config;
  store: Store;
  blobs: BlobStore;
  logger: ConstructorParameters<typeof OutboxDispatcher>[0]["logger"];
  /** Tests: DNS answers under their control. */
  resolve?: Resolver;
}): RegistryIntegration {
  const { config, store, logger } = o;
  const ctx = createSourceContext({
    blobs: o.blobs,
    cacheDir: sourceCacheDir(config.dataDir),
    maxBytes: config.limits.maxBlobBytes,
    sources: config.sources,
    mode: "service",
    ...(o.resolve ? { resolve: o.resolve } : {}),
  });
  const outbox = new OutboxDispatcher({
    store,
    senders: {
      [CALLBACK_KIND]: callbackSender(config, o.resolve ? { resolve: o.resolve } : {}),
      [MLFLOW_VERDICT]: mlflowVerdictSender(ctx, config.watches.publicUrl ? { publicUrl: config.watches.publicUrl } : {}),
      [OCI_VERDICT]: ociVerdictSender(ctx, store),
      [HF_DISCUSSION]: hfDiscussionSender(ctx, config.watches.publicUrl ? { publicUrl: config.watches.publicUrl } : {}),
    },
    settings: { ...config.outbox, waitMs: config.outbox.pollMs },
    logger,
  });
  let poller: OciPoller | undefined;
  return {
    outbox,
    start(services) {
      poller = new OciPoller({ store, ctx, trigger: (watch, version) => startWatchAudit(services, watch, version), pollMs: config.watches.ociPollMs, logger });
      outbox.start();
      poller.start();
    },
    async stop() {
      await poller?.stop();
      await outbox.stop();
    },
  };
}
