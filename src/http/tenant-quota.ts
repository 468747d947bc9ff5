/**
 * The storage quota of a tenant: bytes of the blobs it owns (models, archives) and the number of
 * its audits (each holds its results and events; a results set is bounded by maxPoints; each
 * LayerMem layer of an audit holds one more score per point, so it counts as one more audit). One
 * tenant cannot fill the disk or the database for everyone: past the quota a new upload or
 * submission is refused with `quota_exceeded`, and deleting audits or blobs frees it.
 */
import { SslmemError } from "../core/errors.ts";
import type { AppServices } from "./context.ts";

/** Bytes this tenant may still upload (Infinity without a quota); refuses when none are left. */
export async function remainingBlobQuota(s: AppServices, tenant: string): Promise<number> {
  const quota = s.config.limits.tenantStorageBytes;
  if (quota === 0) return Infinity;
  const { blobBytes } = await s.store.tenantUsage(tenant);
  if (blobBytes >= quota) throw blobQuotaExceeded(quota);
  return quota - blobBytes;
}

export function blobQuotaExceeded(quota: number): SslmemError {
  return new SslmemError(
    "quota_exceeded",
    `your uploads would exceed this server's storage quota of ${quota} bytes per tenant; delete audits or blobs you no longer need`,
    { quotaBytes: quota },
  );
}

/** Refuses a new audit when the tenant already keeps the most results sets it may (audits plus their LayerMem layers). */
export async function assertAuditQuota(s: AppServices, tenant: string): Promise<void> {
  const max = s.config.limits.maxAuditsPerTenant;
  if (max === 0) return;
  const { audits, layerSets } = await s.store.tenantUsage(tenant);
  if (audits + layerSets >= max) {
    const layered = layerSets > 0 ? ` and ${layerSets} LayerMem layers, each counted as one more audit` : "";
    throw new SslmemError(
      "quota_exceeded",
      `you already keep ${audits} audits${layered} (this server's quota is ${max}); delete audits you no longer need`,
      { maxAudits: max },
    );
  }
}
