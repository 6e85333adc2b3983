/** Counting analysis results against the limits: the only place a check can end a release. */
import type { CheckOutcome, ReleaseStatus } from "../status.js";
import type { Draft } from "./context.js";
import { judgeComparisons } from "./comparison.js";
import { failRelease, pauseRelease, scheduleAnalysis } from "./progress.js";
import type { MetricResult, Observation } from "./types.js";

type AnalysisObservation = Extract<Observation, { type: "analysis" }>;

/** One run's outcome: any failure fails it; then errors; then inconclusive; all passing passes. */
export function overallOutcome(results: readonly MetricResult[]): CheckOutcome {
  if (results.length === 0) return "inconclusive";
  for (const outcome of ["fail", "error", "inconclusive"] as const) {
    if (results.some((r) => r.outcome === outcome)) return outcome;
  }
  return "pass";
}

const COUNTER = { pass: "passed", fail: "failed", inconclusive: "inconclusive", error: "errored" } as const;

/** True when status is waiting for exactly this analysis run (not stale, not a duplicate). */
export function awaitsAnalysis(release: ReleaseStatus | undefined, run: { releaseId: number; stepIndex: number; scheduledFor: number }): release is ReleaseStatus {
  return (
    release !== undefined && release.id === run.releaseId && release.stepIndex === run.stepIndex && release.nextAnalysisAt !== undefined && Date.parse(release.nextAnalysisAt) === run.scheduledFor
  );
}

export function recordAnalysis(draft: Draft, observation: AnalysisObservation): void {
  const release = draft.release;
  const analysis = draft.rollout.spec.analysis;
  if (!awaitsAnalysis(release, observation) || !analysis || draft.intervalMs === undefined) return;
  const results = judgeComparisons(draft, release, observation.results, observation.scheduledFor);
  const outcome = overallOutcome(results);
  const counter = COUNTER[outcome];
  release.checks[counter] += 1;
  release.stepChecks[counter] += 1;
  for (const result of results) {
    const metric = release.metrics.find((m) => m.name === result.name);
    if (!metric) continue;
    metric.counts[COUNTER[result.outcome]] += 1;
    metric.lastOutcome = result.outcome;
    metric.lastValue = result.value;
    metric.lastMessage = result.message;
    metric.lastCheckedAt = draft.iso;
  }
  release.inconclusiveStreak = outcome === "inconclusive" ? release.inconclusiveStreak + 1 : 0;
  release.errorStreak = outcome === "error" ? release.errorStreak + 1 : 0;
  // From the run's own time, so a late or repeated report cannot land on the same slot again.
  scheduleAnalysis(draft, release, Math.max(draft.now, observation.scheduledFor) + draft.intervalMs);

  const bad = results.filter((r) => r.outcome === outcome);
  const summary = bad.map((r) => `${r.name} ${r.message}`).join(", ");
  const details = { step: draft.stepLabel(release.stepIndex), weight: release.canaryWeight, results };
  if (outcome === "fail") {
    draft.notify("check-failed", `${draft.rollout.name} ${release.version}: check failed: ${summary}`, details, "warning");
    if (release.checks.failed > analysis.failureLimit) {
      failRelease(draft, "rolled-back", summary, { failedChecks: release.checks.failed, failureLimit: analysis.failureLimit });
    }
  } else if (outcome === "inconclusive") {
    draft.notify("check-inconclusive", `${draft.rollout.name} ${release.version}: check inconclusive: ${summary || "no results"}`, details);
    if (release.inconclusiveStreak > analysis.inconclusiveLimit) {
      overLimit(draft, analysis.onInconclusive, "inconclusive", `${release.inconclusiveStreak} inconclusive checks in a row (${summary || "no results"})`);
    }
  } else if (outcome === "error") {
    draft.notify("check-error", `${draft.rollout.name} ${release.version}: analysis error: ${summary}`, details, "warning");
    if (release.errorStreak > analysis.errorLimit) {
      overLimit(draft, analysis.onError, "error", `${release.errorStreak} analysis errors in a row (${summary})`);
    }
  }
}

function overLimit(draft: Draft, action: "pause" | "rollback", reason: "inconclusive" | "error", message: string): void {
  if (action === "rollback") failRelease(draft, "rolled-back", message);
  else if (draft.status.phase !== "Paused") pauseRelease(draft, reason, message);
}
