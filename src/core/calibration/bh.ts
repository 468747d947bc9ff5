/**
 * Benjamini–Hochberg step-up at level q: with the m p-values sorted ascending, R is the largest i
 * with p_(i) ≤ i·q/m, and the R smallest are rejected. Controls the FDR at π₀·q ≤ q for
 * independent (or PRDS) p-values.
 */
export interface BhOutcome {
  rejected: boolean[];
  count: number;
  /** R·q/m: every rejected p-value is ≤ it and no other is (0 when nothing is rejected). */
  pValueCut: number;
}

export function benjaminiHochberg(pValues: readonly number[], q: number): BhOutcome {
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b]);
  let count = 0;
  for (let i = m; i >= 1; i--) {
    if (pValues[order[i - 1]] <= (i * q) / m) {
      count = i;
      break;
    }
  }
  const rejected = new Array<boolean>(m).fill(false);
  // Reject by rank, not by comparing with R·q/m, so ties and rounding cannot disagree with the count.
  for (let i = 0; i < count; i++) rejected[order[i]] = true;
  return { rejected, count, pValueCut: m === 0 ? 0 : (count * q) / m };
}
