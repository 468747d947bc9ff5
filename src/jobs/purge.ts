/**
 * Purging an audit's sensitive inputs (candidate images, controls). Used by DELETE /v1/audits/{id}
 * and by the retention sweep. Models (target, reference) are kept: they are what CI re-uses, and
 * they are not the private data. Bytes are deleted only when no tenant owns and no audit
 * references them; otherwise only this tenant's claim on them is dropped.
 */
import type { BlobStore } from "../store/blob-store.ts";
import type { AuditInputRole, AuditRecord, AuditStore, BlobOwnership } from "../store/types.ts";

/** Deleting is the one audit write outside the AuditService: it removes the audit, not its state. */
type PurgeStore = BlobOwnership & Pick<AuditStore, "deleteAudit">;
type BlobBytes = Pick<BlobStore, "delete">;

export const PURGED_INPUT_ROLES: readonly AuditInputRole[] = ["candidates", "controls"];

/** Drops `tenant`'s ownership of `digests` and deletes the bytes that nobody else needs. */
export async function forgetBlobs(store: BlobOwnership, blobs: BlobBytes, tenant: string, digests: readonly string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (const digest of digests) {
    const { orphaned } = await store.forgetBlob(tenant, digest);
    if (orphaned && (await blobs.delete(digest))) deleted.push(digest);
  }
  return deleted;
}

/** Retention: purges a finished audit's candidate inputs but keeps the audit and its results. */
export async function purgeAuditInputs(store: BlobOwnership, blobs: BlobBytes, audit: AuditRecord): Promise<string[]> {
  const digests = await store.blobsReferencedOnlyBy(audit.id, PURGED_INPUT_ROLES);
  await store.markInputsPurged(audit.id, PURGED_INPUT_ROLES);
  return forgetBlobs(store, blobs, audit.tenant, digests);
}

/** DELETE: removes the audit, its results and events, and its candidate inputs. */
export async function deleteAuditAndInputs(store: PurgeStore, blobs: BlobBytes, tenant: string, auditId: string): Promise<boolean> {
  // Read the references first: they go with the audit row.
  const digests = await store.blobsReferencedOnlyBy(auditId, PURGED_INPUT_ROLES);
  if (!(await store.deleteAudit(tenant, auditId))) return false;
  await forgetBlobs(store, blobs, tenant, digests);
  return true;
}
