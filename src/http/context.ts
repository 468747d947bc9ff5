/**
 * What every handler can reach through the context (`c.var`): the services of this app instance
 * and the request's own identity. Nothing is a module singleton, so tests build as many apps as
 * they need, each with its own store.
 */
import type { RenderedReportCache } from "./report-cache.ts";
import type { Logger } from "pino";
import type { AuditService } from "../audits/audit-service.ts";
import type { Config } from "../config.ts";
import type { JobRunner } from "../jobs/types.ts";
import type { AuditNotifier } from "../jobs/notifier.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { OutboxDispatcher } from "../outbox/dispatcher.ts";
import type { OutboxStore } from "../store/outbox-types.ts";
import type { AuditReader, AuditStore, BlobOwnership, EventLog, LayerStore, ResultStore, StoreHealth, TokenStore } from "../store/types.ts";
import type { UnitResultStore } from "../store/unit-result-types.ts";
import type { WatchStore } from "../store/watch-types.ts";
import type { EventLoopLagSource } from "./event-loop.ts";
import type { AuditDurations, HttpMetrics } from "./metrics.ts";
import type { UploadSlots } from "./upload-slots.ts";

/**
 * What the routes may do with the store: read, own blobs, delete. No audit-state write is in it:
 * submissions and state changes go through `audits`, the one writer.
 */
export type HttpStore = TokenStore &
  AuditReader &
  Pick<AuditStore, "deleteAudit"> &
  Pick<ResultStore, "readResults" | "iterateResults" | "countResults"> &
  Pick<LayerStore, "auditLayers"> &
  Pick<UnitResultStore, "readUnitResults"> &
  Pick<EventLog, "readEvents"> &
  BlobOwnership &
  StoreHealth &
  Pick<OutboxStore, "deliveriesOfAudit"> &
  WatchStore;

export interface AppServices {
  config: Config;
  store: HttpStore;
  /** The one writer of audit state: submissions go through it. */
  audits: AuditService;
  blobs: BlobStore;
  runner: JobRunner;
  logger: Logger;
  notifier: AuditNotifier;
  metrics: HttpMetrics;
  auditDurations: AuditDurations;
  eventLoop: EventLoopLagSource;
  uploads: UploadSlots;
  /** Reports rendered once per audit and format (report-cache.ts). */
  reports: RenderedReportCache;
  /** Aborted when the server begins shutting down: long-lived streams (SSE) end. */
  shutdown: AbortSignal;
  /** Woken when a delivery is written (absent in apps built without one: rows wait for a dispatcher). */
  outbox?: Pick<OutboxDispatcher, "wake">;
}

export interface AppVariables {
  services: AppServices;
  requestId: string;
  /** Set by the auth middleware on /v1 routes. */
  tenant: string;
  /** The error behind a 5xx, for the request's log line (never for the response). */
  failure: unknown;
  /** The problem code of an error response, for the request's log line. */
  problemCode: string;
}

export type AppEnv = { Variables: AppVariables };
