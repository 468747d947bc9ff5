/**
 * How a scaled-mode audit is cut into shards: consecutive ranges of the global point index
 * (candidates, then controls), each at most `shardSize` points. Ranges, not strides, so that a
 * shard's points sit next to each other in the archive and its committed rows are one range scan.
 */
export interface ShardRange {
  /** 0, 1, 2… in index order. */
  shard: number;
  /** inclusive */
  from: number;
  /** exclusive */
  to: number;
}

export function shardRanges(total: number, shardSize: number): ShardRange[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`total must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new RangeError(`shardSize must be a positive integer, got ${shardSize}`);
  const ranges: ShardRange[] = [];
  for (let from = 0; from < total; from += shardSize) ranges.push({ shard: ranges.length, from, to: Math.min(total, from + shardSize) });
  return ranges;
}
