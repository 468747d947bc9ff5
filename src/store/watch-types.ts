/**
 * Watches: a registry subject (MLflow registered model, Hugging Face repo, OCI repository) whose
 * new versions start audits. The store keeps the watch (its spec is validated by the HTTP layer,
 * stored as JSON) and the triggers already seen, so that a replayed delivery and a version
 * already audited start nothing (one audit per version).
 */
/** A JSON object (as store/types.ts JsonObject; not imported from there: types.ts includes this interface). */
type JsonObject = Record<string, unknown>;

export const WATCH_KINDS = ["mlflow", "huggingface", "oci"] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];

export interface NewWatch {
  tenant: string;
  kind: WatchKind;
  spec: JsonObject;
  /** The webhook secret (MLflow HMAC key, Hugging Face X-Webhook-Secret); never listed. */
  secret: string;
}

export interface WatchRecord extends NewWatch {
  /** "wch_" + 26 chars, time-prefixed. */
  id: string;
  createdAt: string;
}

export interface WatchStore {
  createWatch(watch: NewWatch): Promise<WatchRecord>;
  /** null when absent or another tenant's. */
  getWatch(tenant: string, id: string): Promise<WatchRecord | null>;
  /** Any tenant: webhook receivers, whose caller proves itself with the watch's secret. */
  getWatchInternal(id: string): Promise<WatchRecord | null>;
  listWatches(tenant: string): Promise<WatchRecord[]>;
  /** All tenants, oldest first: what the OCI poller walks. */
  listWatchesOfKind(kind: WatchKind): Promise<WatchRecord[]>;
  deleteWatch(tenant: string, id: string): Promise<boolean>;
  /**
   * Records that `key` (a delivery id, a resolved version) was seen by the watch; false when it
   * was already: the caller starts nothing. Atomic, so two racing deliveries start one audit.
   * With `leaseMs` the claim is pending until an audit settles it (createAudit's
   * `settlesWatchTrigger`, in the audit's transaction); a pending claim whose lease has ended (its
   * claimant died before creating the audit) is claimed again. Without, it is settled at once.
   */
  claimWatchTrigger(watchId: string, key: string, leaseMs?: number): Promise<boolean>;
  /** Forgets a claimed trigger whose audit could not be created (a retry may claim it again). */
  releaseWatchTrigger(watchId: string, key: string): Promise<void>;
}

/** A watch's pending claim that an audit's creation settles (createAudit). */
export interface WatchTriggerRef {
  watchId: string;
  key: string;
}
