/**
 * The counts a comparison needs, for the canary and the stable version over the same window: their
 * requests and bad requests (5xx for success-rate; slower than the stable's p99 bucket for
 * latency-p99), as per-interval counts (rate over the built-ins' window x the analysis interval,
 * so consecutive runs add up to the traffic once even when the window is longer than the interval).
 */
import { destinationServiceName } from "../rollout/destination.js";
import type { MetricComparison } from "../rollout/engine.js";
import type { Counts } from "../rollout/judgment.js";
import type { Rollout } from "../rollout/model.js";
import type { BuiltInMetric } from "../rollout/schema.js";
import type { MetricsQuerier, QueryResult } from "./prometheus.js";
import { BUILT_IN_QUERIES, CANARY_SELECTOR, ISTIO_DURATION_BUCKETS_MS, ISTIO_METRICS, renderQuery, type BuiltInVariables } from "./templates.js";

const requestRate = (extra = "") => `sum(rate(${ISTIO_METRICS.requests}{${CANARY_SELECTOR}${extra}}[{{ window }}]))`;
const bucketRate = (le: number) => `sum(rate(${ISTIO_METRICS.duration}_bucket{${CANARY_SELECTOR}, le=~"${le}|${le}.0"}[{{ window }}]))`;

/** Requests, and the 5xx among them, of one version (`{{ version }}`) per second. */
export const COMPARISON_QUERIES = { requests: requestRate(), errors: requestRate(', response_code=~"5.."') } as const;

/** The sample for one metric, or why there is none (Prometheus could not answer). */
export type SampleResult = { kind: "sample"; comparison: MetricComparison } | { kind: "error"; message: string };

/** `windowMs` is the range `{{ window }}` covers; the engine leaves out a sample that reaches back before its step. */
export async function querySample(client: MetricsQuerier, rollout: Rollout, metric: BuiltInMetric, variables: BuiltInVariables, intervalMs: number, windowMs: number): Promise<SampleResult> {
  const stable: BuiltInVariables = { ...variables, version: variables.stableVersion, destinationService: destinationServiceName(rollout, variables.stableVersion) };
  const seconds = intervalMs / 1_000;
  const rate = async (template: string, vars: BuiltInVariables): Promise<number> => perSecond(await client.query(renderQuery(template, vars)));
  try {
    if (metric === "success-rate") {
      const [canaryRequests, canaryErrors, stableRequests, stableErrors] = await Promise.all([
        rate(COMPARISON_QUERIES.requests, variables),
        rate(COMPARISON_QUERIES.errors, variables),
        rate(COMPARISON_QUERIES.requests, stable),
        rate(COMPARISON_QUERIES.errors, stable),
      ]);
      return { kind: "sample", comparison: { sample: { canary: counts(canaryRequests, canaryErrors, seconds), stable: counts(stableRequests, stableErrors, seconds) }, windowMs } };
    }
    // The bound is the stable's p99 bucket's lower edge: about 1% of its requests or more are slower.
    const p99 = perSecond(await client.query(renderQuery(BUILT_IN_QUERIES["latency-p99"], stable)));
    const bound = slowBoundMs(p99);
    const [canaryRequests, canaryFast, stableRequests, stableFast] = await Promise.all([
      rate(COMPARISON_QUERIES.requests, variables),
      rate(bucketRate(bound), variables),
      rate(COMPARISON_QUERIES.requests, stable),
      rate(bucketRate(bound), stable),
    ]);
    const sample = { canary: counts(canaryRequests, canaryRequests - canaryFast, seconds), stable: counts(stableRequests, stableRequests - stableFast, seconds) };
    return { kind: "sample", comparison: { sample, slowerThanMs: bound, windowMs } };
  } catch (error) {
    return { kind: "error", message: error instanceof Error ? error.message : "query failed" };
  }
}

/** The largest Istio bucket bound at or below the stable's p99 (the smallest one without data). */
export function slowBoundMs(p99: number): number {
  const below = ISTIO_DURATION_BUCKETS_MS.filter((bound) => bound <= p99);
  return below[below.length - 1] ?? ISTIO_DURATION_BUCKETS_MS[0];
}

/** A rate; no series means no requests. Throws on a Prometheus error, which the sample reports. */
function perSecond(result: QueryResult): number {
  if (result.kind === "error") throw new Error(`prometheus: ${result.message}`);
  return result.kind === "value" && Number.isFinite(result.value) ? Math.max(0, result.value) : 0;
}

function counts(requestsPerSecond: number, badPerSecond: number, seconds: number): Counts {
  // Not rounded: Prometheus' rates are already estimates, and the test takes fractional counts.
  return { requests: requestsPerSecond * seconds, bad: Math.max(0, badPerSecond) * seconds };
}
