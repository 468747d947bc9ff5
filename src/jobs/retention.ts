/**
 * Retention (SSLMEM_RETENTION_HOURS): candidate images are private, so a finished audit's
 * candidate and control blobs are purged after N hours. The audit, its results and its report stay.
 */
import type { Logger } from "pino";
import type { BlobStore } from "../store/blob-store.ts";
import type { AuditReader, BlobOwnership } from "../store/types.ts";
import { purgeAuditInputs } from "./purge.ts";

export interface RetentionOptions {
  store: Pick<AuditReader, "listFinishedAuditsOlderThan"> & BlobOwnership;
  blobs: BlobStore;
  logger: Logger;
  /** 0 disables the sweep. */
  hours: number;
  intervalMs: number;
}

export class RetentionSweeper {
  readonly #options: RetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#options.hours <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs);
    this.#timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /** One pass; returns how many audits were purged. Never throws (a failed pass is logged). */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepOnce().finally(() => (this.#sweeping = undefined));
    return this.#sweeping;
  }

  async #sweepOnce(): Promise<number> {
    const { store, blobs, logger, hours } = this.#options;
    if (hours <= 0) return 0;
    let purged = 0;
    try {
      for (;;) {
        const audits = await store.listFinishedAuditsOlderThan(hours, 100);
        if (audits.length === 0) break;
        for (const audit of audits) {
          const deleted = await purgeAuditInputs(store, blobs, audit);
          purged += 1;
          logger.info({ auditId: audit.id, blobsDeleted: deleted.length }, "retention purged audit inputs");
        }
      }
    } catch (err) {
      logger.error({ err }, "retention sweep failed");
    }
    return purged;
  }
}
