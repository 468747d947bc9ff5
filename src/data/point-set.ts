/**
 * A set of points with random access by index. Only an index (ids and where each point's bytes
 * are) lives in memory; pixels are read and decoded on `load`, so a pipeline can process any
 * range or batch of points with memory bounded by the batch.
 */
import { SslmemError } from "../core/errors.ts";
import type { RgbImage } from "../core/image.ts";
import type { IngestLimits } from "./limits.ts";
import { quoteId } from "./point-id.ts";

export type PointSetKind = "directory" | "tar" | "tar.gz" | "zip" | "npy";

/** A file or member that is not a point, and why (shown to users; never a filesystem path). */
export interface SkippedEntry {
  readonly id: string;
  readonly reason: string;
}

/** What an archive reader found: the members that are points, and those that are not. */
export interface ArchiveIndex<M extends { readonly id: string }> {
  readonly points: M[];
  readonly skipped: SkippedEntry[];
}

export interface PointSet {
  /** Point ids in a stable order: sorted for directories and archives, index order for .npy. */
  readonly ids: readonly string[];
  readonly size: number;
  readonly kind: PointSetKind;
  readonly skipped: readonly SkippedEntry[];
  /** Decodes point `i` (0 ≤ i < size). Throws `image_invalid` / `image_too_large` naming the id. */
  load(i: number): Promise<RgbImage>;
  /** Releases file handles and temporary files. Idempotent. */
  close(): Promise<void>;
}

export function tooManyPoints(limits: IngestLimits, what = "the point set"): SslmemError {
  return new SslmemError(
    "too_many_points",
    `${what} holds more than ${limits.maxPoints} points (maxPoints); split it into several audits or raise the limit`,
    { limit: limits.maxPoints },
  );
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export interface PointSetParts<P extends { readonly id: string }> {
  readonly kind: PointSetKind;
  readonly points: P[];
  readonly skipped: SkippedEntry[];
  /** Keep the readers' order (.npy) instead of sorting by id. */
  readonly keepOrder?: boolean;
  loadPoint(point: P): Promise<RgbImage>;
  close(): Promise<void>;
}

/** Assembles a PointSet from an index; refuses an empty set (`candidates_empty`). */
export function makePointSet<P extends { readonly id: string }>(parts: PointSetParts<P>): PointSet {
  const points = parts.keepOrder ? parts.points : [...parts.points].sort(byId);
  const skipped = [...parts.skipped].sort(byId);
  if (points.length === 0) {
    const example = skipped[0] ? `; ${skipped.length} skipped, e.g. ${quoteId(skipped[0].id)}: ${skipped[0].reason}` : "";
    throw new SslmemError("candidates_empty", `the point set holds no images${example}`, {
      skipped: skipped.length,
    });
  }
  const ids = Object.freeze(points.map((p) => p.id));
  let closed = false;
  return {
    ids,
    size: points.length,
    kind: parts.kind,
    skipped: Object.freeze(skipped),
    async load(i: number): Promise<RgbImage> {
      if (!Number.isInteger(i) || i < 0 || i >= points.length) {
        throw new RangeError(`point index ${i} is outside 0..${points.length - 1}`);
      }
      if (closed) throw new Error("point set is closed");
      return parts.loadPoint(points[i]);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await parts.close();
    },
  };
}
