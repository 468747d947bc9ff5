/**
 * The report's summary: counts, the candidates' score distribution (mean, median, a histogram
 * with the controls overlaid) and the top candidates. Computed from stored PointResults and the
 * flag outcome, so a summary can be rebuilt without rerunning the encoders.
 */
import { lookalikeIdWarnings } from "./lookalike-ids.ts";
import { mean, median } from "./calibration/stats.ts";
import { SslmemError } from "./errors.ts";
import { fprFlagCountTest, rankTest } from "./evidence.ts";
import type { FlagSummaryInput, ReportEvidence, ReportHistogram, ReportSummary, ReportTopPoint } from "./report-schema.ts";
import type { PointResult } from "./scores.types.ts";

export const HISTOGRAM_BINS = 20;
/** The verdict's level when the config names none. */
export const DEFAULT_EVIDENCE_LEVEL = 0.01;
export const TOP_CANDIDATES = 10;

/**
 * 20 equal-width bins over [min, max] of the candidate scores. Edges are e_i = min + (max − min)·i/20
 * (e_20 = max exactly); a score goes to the last bin whose lower edge it reaches, so each bin is
 * [lo, hi) except the last, [lo, max], where the maximum lands. Controls are counted in the same
 * bins; those outside the candidates' range are counted apart rather than piled into the end bins.
 * When all candidate scores are equal there is no width to divide: one bin [v, v] holds them all.
 */
export function scoreHistogram(candidateScores: readonly number[], controlScores: readonly number[], thresholdScore?: number): ReportHistogram {
  if (candidateScores.length === 0) throw new SslmemError("candidates_empty", "a histogram needs at least one candidate score");
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of candidateScores) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  const nBins = hi > lo ? HISTOGRAM_BINS : 1;
  const edges = Array.from({ length: nBins + 1 }, (_, i) => (i === nBins ? hi : lo + ((hi - lo) * i) / nBins));
  const bins = Array.from({ length: nBins }, (_, i) => ({ lo: edges[i], hi: edges[i + 1], count: 0, controls: 0 }));
  const binOf = (s: number): number => {
    // Largest i < nBins with edges[i] ≤ s (binary search, so counts agree with the published edges).
    let a = 0;
    let b = nBins - 1;
    while (a < b) {
      const mid = (a + b + 1) >> 1;
      if (edges[mid] <= s) a = mid;
      else b = mid - 1;
    }
    return a;
  };
  for (const s of candidateScores) bins[binOf(s)].count++;
  let controlsBelow = 0;
  let controlsAbove = 0;
  for (const s of controlScores) {
    if (s < lo) controlsBelow++;
    else if (s > hi) controlsAbove++;
    else bins[binOf(s)].controls++;
  }
  return { bins, controlsBelow, controlsAbove, ...(thresholdScore !== undefined ? { thresholdScore } : {}) };
}

/** The highest-scoring candidates, best first (ties by id, so the order is reproducible). */
export function topCandidates(results: readonly PointResult[], n: number = TOP_CANDIDATES): ReportTopPoint[] {
  return results
    .filter((r) => r.role === "candidate")
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, n)
    .map((r) => ({
      id: r.id,
      score: r.score,
      scoreNormalized: r.scoreNormalized,
      ...(r.pValue !== undefined ? { pValue: r.pValue } : {}),
      flagged: r.flagged,
    }));
}

/** The set-level verdict from the candidate and control scores (undefined without controls). */
export function setEvidence(candidateScores: readonly number[], controlScores: readonly number[], level: number = DEFAULT_EVIDENCE_LEVEL): ReportEvidence | undefined {
  if (candidateScores.length === 0 || controlScores.length === 0) return undefined;
  const t = rankTest(candidateScores, controlScores);
  return {
    test: "mann-whitney",
    alternative: "greater",
    candidates: candidateScores.length,
    controls: controlScores.length,
    ...t,
    level,
    evidence: t.pValue <= level,
  };
}

/** What the flag count means: the flags expected by chance and, for fpr, the exact test of the count. */
export function flagCountStatistics(flag: FlagSummaryInput, flagged: number, candidates: number): { expectedFalseFlags?: number; countPValue?: number } {
  if (!flag.calibrated) return {};
  if (flag.method === "fpr") {
    const { controls, rank } = flag.parameters;
    if (controls === undefined || rank === undefined) return {};
    const t = fprFlagCountTest(flagged, candidates, controls, rank);
    return { expectedFalseFlags: t.expected, countPValue: t.pValue };
  }
  if (flag.method === "fdr" && flag.parameters.q !== undefined) return { expectedFalseFlags: flag.parameters.q * flagged };
  return {};
}

export function buildSummary(results: readonly PointResult[], flag: FlagSummaryInput, opts: { evidenceLevel?: number } = {}): ReportSummary {
  const candidateScores: number[] = [];
  const controlScores: number[] = [];
  let flagged = 0;
  for (const r of results) {
    if (r.role === "candidate") {
      candidateScores.push(r.score);
      if (r.flagged) flagged++;
    } else {
      controlScores.push(r.score);
    }
  }
  if (candidateScores.length === 0) throw new SslmemError("candidates_empty", "the audit has no candidate results to summarize");
  const evidence = setEvidence(candidateScores, controlScores, opts.evidenceLevel);
  return {
    candidates: candidateScores.length,
    controls: controlScores.length,
    meanScore: mean(candidateScores),
    medianScore: median(candidateScores),
    flagged,
    flaggedFraction: flagged / candidateScores.length,
    flag: {
      method: flag.method,
      parameters: flag.parameters,
      calibrated: flag.calibrated,
      ...flagCountStatistics(flag, flagged, candidateScores.length),
      ...(flag.threshold !== undefined ? { threshold: flag.threshold } : {}),
      ...(flag.diagnostics ? { diagnostics: flag.diagnostics } : {}),
      warnings: [...flag.warnings, ...lookalikeIdWarnings(results.map((r) => r.id))],
    },
    ...(evidence ? { evidence } : {}),
    histogram: scoreHistogram(candidateScores, controlScores, flag.threshold),
    top: topCandidates(results),
  };
}
