/**
 * Resource limits for candidate ingestion. Every reader checks them *before* the expensive step
 * (header dimensions before decoding, declared sizes before inflating, running totals while
 * decompressing), so a hostile upload costs at most what these numbers allow.
 */
import { z } from "zod";
import { SslmemError } from "../core/errors.ts";

export interface IngestLimits {
  /** Largest image, width × height, that is decoded (checked from the header, before decoding). */
  readonly maxPixels: number;
  /** Most points one set may hold. */
  readonly maxPoints: number;
  /** Most members (files, folders, metadata headers) an archive may hold. */
  readonly maxArchiveEntries: number;
  /** Most bytes an archive may expand to, all members together. */
  readonly maxExpandedBytes: number;
  /** Largest expanded/compressed ratio of a compressed archive or zip member. */
  readonly maxExpansionRatio: number;
  /**
   * Expansion below this many bytes is never refused by ratio: small archives of tiny images have
   * high ratios (tar headers and padding compress to almost nothing) and cost nothing to expand.
   */
  readonly ratioGraceBytes: number;
  /** Largest single image file (bytes of the encoded file, or of the archive member). */
  readonly maxFileBytes: number;
  /** Longest point id (member or file name), in UTF-8 bytes. */
  readonly maxPointIdBytes: number;
  /** Decoded pixels one batch of the engine may hold; a batch of large images has fewer points. */
  readonly maxBatchPixels: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_INGEST_LIMITS: IngestLimits = Object.freeze({
  // 40 MP covers every common dataset and camera image; 40e6 × 3 bytes = 120 MB decoded at most.
  maxPixels: 40_000_000,
  maxPoints: 1_000_000,
  maxArchiveEntries: 100_000,
  maxExpandedBytes: 8 * 1024 * MiB,
  maxExpansionRatio: 200,
  ratioGraceBytes: 16 * MiB,
  maxFileBytes: 256 * MiB,
  // Ids are repeated in every resource, page and report row; 1 KiB holds any real path.
  maxPointIdBytes: 1024,
  // 64 MP = 192 MB of RGB per batch (two batches are in flight: one measured, one decoding).
  maxBatchPixels: 64_000_000,
});

const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Partial overrides as accepted from configuration; unknown keys are an error. */
export const IngestLimitsOverridesSchema = z
  .object({
    maxPixels: positiveInt,
    maxPoints: positiveInt,
    maxArchiveEntries: positiveInt,
    maxExpandedBytes: positiveInt,
    maxExpansionRatio: z.number().finite().min(1),
    ratioGraceBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    maxFileBytes: positiveInt,
    maxPointIdBytes: positiveInt,
    maxBatchPixels: positiveInt,
  })
  .partial()
  .strict();

/** Defaults with `overrides` applied; refuses non-positive or non-integer values (`invalid_config`). */
export function resolveIngestLimits(overrides: Partial<IngestLimits> = {}): IngestLimits {
  const parsed = IngestLimitsOverridesSchema.safeParse(overrides);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "limits";
    throw new SslmemError("invalid_config", `ingest limit ${where}: ${issue?.message ?? "invalid value"}`, {
      field: where,
    });
  }
  return Object.freeze({ ...DEFAULT_INGEST_LIMITS, ...parsed.data });
}
