/**
 * Each metric's checks over time, for the dashboard's charts. Status keeps only the last check of
 * each metric (and, with `compare`, the running totals of both versions), so the dashboard records
 * a sample every time a check's time changes in what the watch delivers: the chart covers the
 * checks seen since the dashboard started, and starts again with each release.
 */
import type { RolloutStatus } from "../rollout/status.js";
import type { CheckOutcome } from "../rollout/status.js";

export interface MetricSample {
  at: string;
  value: number | null;
  outcome: CheckOutcome | undefined;
  /** With `compare`: the share of bad requests so far in the release, of the canary and of stable. */
  canary?: number;
  stable?: number;
}

export interface ReleaseSeries {
  releaseId: number;
  metrics: Record<string, MetricSample[]>;
}

/** Samples kept per metric: about 15 minutes of checks every 15 s. */
export const SAMPLE_LIMIT = 60;

const ratio = (counts: { requests: number; bad: number }): number | undefined => (counts.requests > 0 ? counts.bad / counts.requests : undefined);

/**
 * The series with the status's latest checks added (a new object where something changed). Without
 * a release in flight the last release's series is kept, so its checks stay on the page after it ends.
 */
export function recordChecks(series: ReleaseSeries | undefined, status: RolloutStatus | undefined): ReleaseSeries | undefined {
  const release = status?.release;
  if (!release) return series;
  const current = series?.releaseId === release.id ? series : { releaseId: release.id, metrics: {} };
  let metrics = current.metrics;
  for (const metric of release.metrics) {
    if (metric.lastCheckedAt === undefined) continue;
    const samples = metrics[metric.name] ?? [];
    if (samples.at(-1)?.at === metric.lastCheckedAt) continue;
    const canary = metric.evidence ? ratio(metric.evidence.canary) : undefined;
    const stable = metric.evidence ? ratio(metric.evidence.stable) : undefined;
    const sample: MetricSample = {
      at: metric.lastCheckedAt,
      value: metric.lastValue ?? null,
      outcome: metric.lastOutcome,
      ...(canary !== undefined ? { canary } : {}),
      ...(stable !== undefined ? { stable } : {}),
    };
    metrics = { ...metrics, [metric.name]: [...samples, sample].slice(-SAMPLE_LIMIT) };
  }
  return metrics === current.metrics ? current : { releaseId: release.id, metrics };
}
