/** Number formatting shared by the human-readable reports (table, HTML, JUnit and SARIF messages). */

/**
 * `digits` significant digits, trailing zeros dropped; exponent notation outside [1e-3, 1e5), where
 * fixed notation would be all zeros or too wide. Scores are differences of distances in [0, 2],
 * so their natural scale is 1e-3 … 1.
 */
export function formatNumber(x: number, digits = 4): string {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) {
    const s = x.toPrecision(digits);
    return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
  }
  return x.toExponential(Math.max(0, digits - 1)).replace(/\.?0+e/, "e");
}

/** A p-value: three significant digits; small ones in exponent notation (they are what matters). */
export function formatPValue(p: number | undefined): string {
  return p === undefined ? "—" : formatNumber(p, 3);
}

/**
 * A fraction as a percentage: one decimal from 1% up, two significant digits below (so the
 * calibration check's 0.33% vs 0.29% stays readable), and exactly 0 as 0%.
 */
export function formatPercent(fraction: number): string {
  if (fraction === 0) return "0%";
  if (Math.abs(fraction) >= 0.01) return `${(100 * fraction).toFixed(1)}%`;
  return `${formatNumber(100 * fraction, 2)}%`;
}

/** `1 control`, `2 controls`. */
export function plural(n: number, singular: string, pluralForm = singular + "s"): string {
  return `${formatCount(n)} ${n === 1 ? singular : pluralForm}`;
}

/** An integer count with thousands separators (locale-independent). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** `sha256:` and the first 12 hex digits: enough to tell encoders apart in a summary. */
export function shortDigest(digest: string): string {
  const [algo, hex] = digest.split(":");
  return hex === undefined ? digest.slice(0, 19) : `${algo}:${hex.slice(0, 12)}`;
}
