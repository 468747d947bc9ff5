/**
 * What every flag method returns (flags.ts turns it into PointResults) and the calibration
 * diagnostics a report carries. report.ts mirrors these types in zod and a compile-time check
 * keeps the two in step.
 */

/** The per-point covariate the fdr null's location and scale depend on ("none": one global scale). */
export type NullCovariate = "alignReference" | "meanAlignment" | "stdErr" | "none";

/**
 * The tail of the fdr null of standardized scores: a generalized Pareto distribution over the
 * exceedances of `threshold` (the body of the null is the controls' empirical distribution).
 */
export interface TailModel {
  family: "generalized-pareto";
  /** u: the standardized score above which the GPD applies. */
  threshold: number;
  /** σ > 0. */
  scale: number;
  /** ξ ≥ 0 (0: exponential tail). */
  shape: number;
  /** N_u: controls above u that the GPD was fitted to. */
  exceedances: number;
}

export interface QuantileComparison {
  /** Probability level u. */
  quantile: number;
  /** u-quantile of the controls' (leave-one-out) standardized scores. */
  empirical: number;
  /** u-quantile of the fitted null. */
  fitted: number;
}

export interface CalibrationDiagnostics {
  /** Number of controls the null was fitted to. */
  controls: number;
  covariate: NullCovariate;
  /**
   * Fraction of controls that would be flagged if each were scored as a candidate against a null
   * fitted without it (leave-one-out), at the cut the candidates got.
   */
  looFalseFlagRate: number;
  /** The rate expected under correct calibration at that cut (α for fpr, the BH p-value cut for fdr). */
  looExpectedRate: number;
  /** Neighbours per local null window (fdr). */
  neighbors?: number;
  /** The fitted tail of the null of standardized scores (fdr). */
  tail?: TailModel;
  /** Controls' standardized scores vs the fitted null at a few quantiles (fdr). */
  qq?: QuantileComparison[];
  /** max |empirical − fitted| over `qq`, in standardized units. */
  qqMaxAbsDeviation?: number;
}

/** One method's verdict on the candidates (in input order) and p-values, before assembly. */
export interface MethodOutcome {
  flagged: boolean[];
  candidatePValues?: number[];
  /** Leave-one-out p-values of the controls (scored as if each were a candidate). */
  controlPValues?: number[];
  parameters: Record<string, number>;
  calibrated: boolean;
  /** A cut on the raw score scale, for plotting; absent where no single score cut exists. */
  threshold?: number;
  diagnostics?: CalibrationDiagnostics;
  warnings: string[];
}
