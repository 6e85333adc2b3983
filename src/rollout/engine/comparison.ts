/**
 * Judgment against stable: each run's counts are added to the metric's evidence in status, and
 * the comparison's verdict is combined with the metric's thresholds, if it has any.
 */
import { addSample, continueEvidence, DEFAULT_CONFIDENCE, describeEvidence, judge, type ComparisonVerdict } from "../judgment.js";
import { metricThresholds } from "../model.js";
import type { Metric } from "../schema.js";
import type { ReleaseStatus } from "../status.js";
import type { Draft } from "./context.js";
import type { MetricComparison, MetricResult } from "./types.js";

/** The results as the engine judges them: comparisons decided from the release's evidence, counts dropped. */
export function judgeComparisons(draft: Draft, release: ReleaseStatus, results: readonly MetricResult[], scheduledFor: number): MetricResult[] {
  const metrics = draft.rollout.spec.analysis?.metrics ?? [];
  return results.map((result) => {
    const { comparison, ...plain } = result;
    const metric = metrics.find((m) => m.name === result.name);
    const status = release.metrics.find((m) => m.name === result.name);
    if (!metric?.compare || !status || result.outcome === "error") return plain;
    const { maxIncrease, confidence = DEFAULT_CONFIDENCE } = metric.compare;
    const before = continueEvidence(status.evidence, maxIncrease);
    const evidence = comparison && !reachesBeforeStep(release, comparison, scheduledFor) ? addSample(before, comparison.sample) : before;
    status.evidence = evidence;
    const { verdict } = judge(evidence, confidence);
    const measure = metric.name === "latency-p99" ? { kind: "slow" as const, slowerThanMs: comparison?.slowerThanMs ?? 0 } : { kind: "errors" as const };
    const words = describeEvidence(evidence, verdict, { canary: release.version, stable: draft.status.stableVersion }, measure, confidence);
    return combine(metric, plain, verdict, words);
  });
}

/**
 * Whether the sample's window began before the step's traffic was in place. Its counts then mix two
 * traffic splits under one canary share, and when the shared error rate moves within the window
 * (a spike during the first minute at the new weight) the canary's share of the bad requests
 * is far from what its share of requests implies, either way: leave it out, at the cost of the
 * step's first (windowMs - interval) of evidence.
 */
function reachesBeforeStep(release: ReleaseStatus, comparison: MetricComparison, scheduledFor: number): boolean {
  if (comparison.windowMs === undefined || release.stepStartedAt === undefined) return false;
  return scheduledFor - comparison.windowMs < Date.parse(release.stepStartedAt);
}

/**
 * Worse than stable, or a threshold failed: fail. Shown no worse: pass. Otherwise a passing
 * threshold passes (the comparison keeps collecting and can still fail later); else inconclusive.
 */
function combine(metric: Metric, threshold: MetricResult, verdict: ComparisonVerdict, words: string): MetricResult {
  const thresholds = metricThresholds(metric);
  const hasThreshold = thresholds.min !== undefined || thresholds.max !== undefined;
  const withThreshold = hasThreshold ? `${threshold.message}; ${words}` : words;
  if (verdict === "worse") return { ...threshold, outcome: "fail", message: words };
  if (hasThreshold && threshold.outcome === "fail") return { ...threshold, message: withThreshold };
  if (verdict === "no-worse") return { ...threshold, outcome: "pass", message: withThreshold };
  if (hasThreshold && threshold.outcome === "pass") return { ...threshold, message: withThreshold };
  return { ...threshold, outcome: "inconclusive", message: withThreshold };
}
