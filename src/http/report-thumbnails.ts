/**
 * Thumbnails of the candidates the HTML report lists (its flagged table, or the top points),
 * made on demand from the audit's candidate upload. They are never stored: once the candidates
 * are purged (DELETE or retention), the report renders without pictures — private images do not
 * outlive their purge inside a report.
 */
import { isSslmemError } from "../core/errors.ts";
import type { Logger } from "pino";
import type { ReportV1 } from "../core/report.ts";
import type { IngestLimits } from "../data/limits.ts";
import { openPointSet } from "../data/sources.ts";
import { thumbnailIds } from "../report/thumbnail-ids.ts";
import { makeThumbnail } from "../report/thumbnails.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { AuditRecord } from "../store/types.ts";

export interface ThumbnailDeps {
  blobs: BlobStore;
  ingest: Partial<IngestLimits>;
  tmpDir: string;
  logger: Logger;
}

export function candidateThumbnails(audit: AuditRecord, report: ReportV1, deps: ThumbnailDeps): Promise<Map<string, string>> {
  return pointThumbnails(audit, thumbnailIds(report), deps);
}

/** Thumbnails of the candidates named by `ids` (an SSLMem page's points, a UnitMem page's singled-out points). */
export async function pointThumbnails(audit: AuditRecord, ids: readonly string[], deps: ThumbnailDeps): Promise<Map<string, string>> {
  const thumbnails = new Map<string, string>();
  const digest = audit.inputs.candidates;
  if (audit.inputsPurgedAt !== null || !(await deps.blobs.has(digest))) return thumbnails;
  const wanted = new Set(ids);
  if (wanted.size === 0) return thumbnails;
  try {
    const set = await openPointSet(deps.blobs.pathFor(digest), deps.ingest, { tmpDir: deps.tmpDir });
    try {
      for (let i = 0; i < set.size && thumbnails.size < wanted.size; i++) {
        if (wanted.has(set.ids[i])) thumbnails.set(set.ids[i], await makeThumbnail(await set.load(i)));
      }
    } finally {
      await set.close();
    }
  } catch (e) {
    // Pictures are a convenience: the report renders without them, and the reason is logged.
    // Only the code: a reader's message names the point (ids are uploaded file names, which can be private).
    deps.logger.warn({ auditId: audit.id, code: isSslmemError(e) ? e.code : "internal" }, "report thumbnails unavailable");
  }
  return thumbnails;
}
