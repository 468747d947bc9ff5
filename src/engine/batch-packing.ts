/**
 * What a batch is packed into before its run, in one place for the pipeline (batch-pipeline.ts)
 * and the staging thread (staging-worker.ts): the augmentation graph's inputs (sources and view
 * parameters, augment-graph.ts), or the views themselves made on the host (host-augment.ts), which
 * the composed graph then takes as its input.
 */
import type { PackingArrays } from "./array-pool.ts";
import { packAugmentInputs, type AugmentGraphOptions, type PackedInput, type SourceViews } from "./augment-graph.ts";
import { packHostViews } from "./host-augment.ts";

/** Where a batch's views are made: in the composed graph, on the provider, or on the host CPU. */
export type AugmentSite = "graph" | "host";

export interface BatchPacking {
  augment: AugmentGraphOptions;
  site: AugmentSite;
}

/** A batch's inputs to the composed graph (or the augmentation session), into arrays from `arrays`. */
export function packBatch(packing: BatchPacking, batch: readonly SourceViews[], arrays: PackingArrays): Record<string, PackedInput> {
  return packing.site === "host" ? packHostViews(packing.augment, batch, arrays) : packAugmentInputs(packing.augment, batch, arrays);
}
