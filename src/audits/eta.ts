/**
 * Estimated seconds left in the current stage, from the rate so far in that stage. Returns
 * undefined until there is a rate to extrapolate (nothing done yet, or no time elapsed).
 */
export function estimateEtaSeconds(done: number, total: number, elapsedMs: number): number | undefined {
  if (!(done > 0) || !(total >= done) || !(elapsedMs > 0)) return undefined;
  return Math.round(((total - done) * elapsedMs) / done / 1000);
}
