/**
 * `fdr` flags: p-values from a heteroscedastic null fitted to the controls, then Benjamini–Hochberg
 * at q over the candidates (DESIGN.md §1).
 *
 * Null model: s = μ(c) + σ(c)·ε. The covariate c defaults to the point's alignment under the
 * reference, align(g, x). Atypical points have larger alignment distances and a much wider null
 * score spread (~5× measured), so one global scale over-flags them (~35% false discoveries at
 * q = 0.05). Of the candidate covariates, align(g, x) is the one membership cannot move: g was
 * trained on neither candidates nor controls, so a memorized candidate and a control are on an
 * equal footing, while the mean alignment and the stdErr also involve f, which memorization
 * changes. ("meanAlignment", "stdErr" and "none" — one global scale — remain selectable.)
 *
 * Steps: (1) μ(c), σ(c) by the median and MAD of the controls nearest in c (local-null.ts);
 * (2) each control's leave-one-out standardized score z = (s − μ₋ᵢ(c))/σ₋ᵢ(c); (3) the null of z:
 * the controls' empirical distribution with a generalized Pareto upper tail (tail-fit.ts), so
 * p-values are not limited to ≥ 1/(n + 1); (4) candidate p = P(Z ≥ z); (5) BH at q.
 *
 * Diagnostics: the leave-one-out false-flag rate (the fraction of controls whose p-value, scored
 * like a candidate's, falls at or below the BH cut) against the rate a calibrated null predicts
 * (the cut itself), and a QQ summary of the controls' z against the fitted null. A warning also
 * fires when more candidates than chance allows lie outside the controls' covariate range: the
 * controls then do not represent the candidates, which no fit can repair. The tail is fitted once
 * on all controls rather than n times; one control moves it by O(1/n).
 */
import { SslmemError } from "../errors.ts";
import type { PointMeasurement } from "../scores.types.ts";
import { benjaminiHochberg } from "./bh.ts";
import { binomialSf } from "./distributions.ts";
import { conformalPValue } from "./fpr.ts";
import { fitLocalNull } from "./local-null.ts";
import { countAtLeast, extent, quantileOfSorted, sortedCopy } from "./stats.ts";
import { fitNullDistribution } from "./tail-fit.ts";
import type { CalibrationDiagnostics, MethodOutcome, NullCovariate, QuantileComparison } from "./types.ts";

export const FDR_MIN_CONTROLS = 20;
export const FDR_FEW_CONTROLS = 100;
// The body of the null is the controls' own distribution, so a QQ check is informative in the tail only.
const QQ_LEVELS = [0.9, 0.95, 0.99];

export interface FdrOptions {
  q: number;
  covariate?: NullCovariate;
  /** Controls per local window; default max(25, ⌈3√n⌉). */
  neighbors?: number;
}

export function covariateOf(p: PointMeasurement, covariate: NullCovariate): number {
  switch (covariate) {
    case "alignReference":
      return p.alignReference;
    case "meanAlignment":
      return (p.alignTarget + p.alignReference) / 2;
    case "stdErr":
      return p.stdErr;
    case "none":
      return 0;
  }
}

/**
 * Warnings from the leave-one-out check: more controls at or below the cut than a calibrated null
 * makes plausible (binomial tail < 1%).
 */
export function looWarnings(d: Pick<CalibrationDiagnostics, "controls" | "looFalseFlagRate" | "looExpectedRate">): string[] {
  const count = Math.round(d.looFalseFlagRate * d.controls);
  if (count < 2 || binomialSf(count, d.controls, d.looExpectedRate) >= 0.01) return [];
  return [
    `calibration check failed: ${count} of ${d.controls} controls (${pct(d.looFalseFlagRate)}) would be flagged at the BH cut, ` +
      `where a well-fitted null predicts ${pct(d.looExpectedRate)}; the fitted null underestimates the controls' tail, so expect more false discoveries than q`,
  ];
}

/**
 * A warning when more candidates lie outside the controls' covariate range than chance allows
 * (each does with probability 2/(n + 1) when candidates and controls are exchangeable): the
 * controls may not represent the candidates, and the null at those points is extrapolated.
 */
export function covariateRangeWarnings(candidateCovariates: readonly number[], controlCovariates: readonly number[], covariate: NullCovariate): string[] {
  if (covariate === "none" || candidateCovariates.length === 0 || controlCovariates.length === 0) return [];
  const { min: lo, max: hi } = extent(controlCovariates);
  let outside = 0;
  for (const c of candidateCovariates) if (c < lo || c > hi) outside++;
  const m = candidateCovariates.length;
  if (outside === 0 || binomialSf(outside, m, 2 / (controlCovariates.length + 1)) >= 0.001) return [];
  return [
    `${outside} of ${m} candidates (${pct(outside / m)}) have a ${covariate} outside the controls' range, more than chance allows: ` +
      `the controls may not come from the candidates' distribution, and the null for those candidates is extrapolated`,
  ];
}

function pct(x: number): string {
  return `${(100 * x).toPrecision(2)}%`;
}

function looRate(controlP: readonly number[], cut: number): number {
  let c = 0;
  for (const p of controlP) if (p <= cut) c++;
  return controlP.length === 0 ? 0 : c / controlP.length;
}

export function fdrFlags(candidates: readonly PointMeasurement[], controls: readonly PointMeasurement[], opts: FdrOptions): MethodOutcome {
  const n = controls.length;
  if (n < FDR_MIN_CONTROLS) {
    throw new SslmemError(
      "controls_required",
      `flag method 'fdr' needs at least ${FDR_MIN_CONTROLS} controls to fit its null (got ${n}); a few hundred are recommended`,
      { controls: n, minimum: FDR_MIN_CONTROLS },
    );
  }
  const q = opts.q;
  const covariate = opts.covariate ?? "alignReference";
  const warnings: string[] = [];
  if (n < FDR_FEW_CONTROLS) {
    warnings.push(`only ${n} controls: the null's tail is extrapolated from few points and the flags may be miscalibrated; a few hundred controls are recommended`);
  }
  const controlScores = controls.map((p) => p.score);
  const candidateScores = candidates.map((p) => p.score);
  const m = candidates.length;

  const controlCovariates = controls.map((p) => covariateOf(p, covariate));
  const candidateCovariates = candidates.map((p) => covariateOf(p, covariate));
  warnings.push(...covariateRangeWarnings(candidateCovariates, controlCovariates, covariate));
  const local = fitLocalNull(controlScores, controlCovariates, covariate === "none" ? n : opts.neighbors);
  const zLoo = local
    ? controls.map((p, i) => {
        const f = local.leaveOneOut(i);
        return (p.score - f.location) / f.scale;
      })
    : [];
  const nullZ = local ? fitNullDistribution(zLoo) : undefined;

  if (!local || !nullZ) {
    // No spread to fit a scale to: rank-based (conformal) p-values are still valid, just bounded below by 1/(n + 1).
    warnings.push(
      `control scores have (almost) no spread, so no null could be fitted: p-values are empirical and cannot go below 1/${n + 1}, which limits how many candidates BH can flag`,
    );
    const sorted = sortedCopy(controlScores);
    const candidateP = candidateScores.map((s) => conformalPValue(sorted, s));
    const controlP = controlScores.map((s) => countAtLeast(sorted, s) / n);
    const bh = benjaminiHochberg(candidateP, q);
    const cut = m === 0 ? 0 : (Math.max(bh.count, 1) * q) / m;
    const diagnostics: CalibrationDiagnostics = { controls: n, covariate: "none", looFalseFlagRate: looRate(controlP, cut), looExpectedRate: cut };
    return {
      flagged: bh.rejected,
      candidatePValues: candidateP,
      controlPValues: controlP,
      parameters: { q, controls: n, pValueCut: bh.pValueCut },
      calibrated: true,
      diagnostics,
      warnings: [...warnings, ...looWarnings(diagnostics)],
    };
  }

  const candidateP = candidates.map((p, i) => {
    const f = local.at(candidateCovariates[i]);
    return nullZ.sf((p.score - f.location) / f.scale);
  });
  const controlP = zLoo.map((z) => nullZ.sfLeaveOneOut(z));
  const bh = benjaminiHochberg(candidateP, q);
  // With no rejection, judge calibration at the smallest cut BH could have used (one rejection).
  const cut = m === 0 ? 0 : (Math.max(bh.count, 1) * q) / m;

  const zSorted = sortedCopy(zLoo);
  const qq: QuantileComparison[] = QQ_LEVELS.map((u) => ({ quantile: u, empirical: quantileOfSorted(zSorted, u), fitted: nullZ.quantile(u) }));
  const diagnostics: CalibrationDiagnostics = {
    controls: n,
    covariate,
    looFalseFlagRate: looRate(controlP, cut),
    looExpectedRate: cut,
    neighbors: local.neighbors,
    tail: nullZ.model,
    qq,
    qqMaxAbsDeviation: Math.max(...qq.map((r) => Math.abs(r.empirical - r.fitted))),
  };
  return {
    flagged: bh.rejected,
    candidatePValues: candidateP,
    controlPValues: controlP,
    parameters: { q, controls: n, neighbors: local.neighbors, pValueCut: bh.pValueCut },
    calibrated: true,
    diagnostics,
    warnings: [...warnings, ...looWarnings(diagnostics)],
  };
}
