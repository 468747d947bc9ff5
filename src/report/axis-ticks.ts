/** Tick values for chart axes: "nice" steps (1, 2, 2.5 or 5 × 10^k) covering a range. */

/** A step near range/target rounded to 1, 2, 2.5 or 5 × 10^k. */
export function niceStep(range: number, target: number): number {
  const raw = range / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Multiples of a nice step inside [lo, hi] (about `target` of them). Values are rounded to the
 * step's decimals so 0.1 + 0.2 prints as 0.3.
 */
export function niceTicks(lo: number, hi: number, target: number): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const step = niceStep(hi - lo, target);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    ticks.push(Number((k * step).toFixed(decimals)));
  }
  return ticks;
}

/** The smallest nice tick value ≥ max, for the top of a count or share axis starting at 0. */
export function niceCeiling(max: number, target: number): number {
  if (!(max > 0)) return 1;
  const step = niceStep(max, target);
  return Math.ceil(max / step - 1e-9) * step;
}
