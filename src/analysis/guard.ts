/**
 * The guard's look at the canary: its requests and 5xx answers over the last two guard
 * intervals, from Istio's request counter, counting the requests its callers could not deliver
 * (no ready endpoint) as failed ones. Two instant queries, run in parallel.
 */
import type { Rollout } from "../rollout/model.js";
import { observe, type QueryObserver } from "./analyze.js";
import type { MetricsQuerier, QueryResult } from "./prometheus.js";
import { MIN_RANGE_SCRAPES } from "./ranges.js";
import { CANARY_SELECTOR, ISTIO_METRICS, promqlRange, queryVariables, renderQuery } from "./templates.js";

/**
 * Requests that never reached the canary: its callers' sidecars answered 503 themselves because
 * Envoy had no healthy upstream (UH), no cluster (NC) or no route (NR) for it. They carry no
 * destination_version (Envoy never picked a pod), so they are selected by the destination Service:
 * the canary's own Service with `host:`, the service with subsets (its stable is known to run).
 */
export const UNREACHED_SELECTOR = ['reporter="source"', 'destination_service_name="{{ destinationService }}"', 'destination_service_namespace="{{ namespace }}"', 'response_flags=~"UH|NC|NR"'].join(
  ", ",
);

const increase = (selector: string) => `(sum(increase(${ISTIO_METRICS.requests}{${selector}}[{{ window }}])) or vector(0))`;

/** The canary's requests, and its 5xx answers, over `{{ window }}`: served by it, or failed on the way to it. */
export const GUARD_QUERIES = {
  requests: `${increase(CANARY_SELECTOR)} + ${increase(UNREACHED_SELECTOR)}`,
  errors: `${increase(`${CANARY_SELECTOR}, response_code=~"5.."`)} + ${increase(UNREACHED_SELECTOR)}`,
} as const;

/** The name guard queries are observed under; not a valid metric name, so never a user's. */
export const GUARD_METRIC = "built-in:guard";

export type GuardReading = { requests: number; errors: number } | { error: string };

/**
 * Counts over two intervals: with the guard looking once per scrape, two scrapes are the fewest
 * that `increase` can work with, and the newest scrape weighs as much as it can. A guard looking
 * more often than Prometheus scrapes still looks over two scrapes (shorter has no data). Never
 * further back than the release's start, so a retried version is not judged on its previous run's errors.
 */
export function guardWindowMs(guard: { intervalMs: number; scrapeIntervalMs: number; releaseStartedAt: number; now: number }): number {
  const twoLooks = MIN_RANGE_SCRAPES * Math.max(guard.intervalMs, guard.scrapeIntervalMs);
  return Math.max(0, Math.min(twoLooks, guard.now - guard.releaseStartedAt));
}

export async function readGuard(
  client: MetricsQuerier,
  rollout: Rollout,
  context: { canaryVersion: string; stableVersion: string; windowMs: number },
  observer?: QueryObserver,
): Promise<GuardReading> {
  const variables = { ...queryVariables(rollout, context), window: promqlRange(context.windowMs) };
  const render = (template: string) => renderQuery(template, variables);
  const started = performance.now();
  const [requests, errors] = await Promise.all([client.query(render(GUARD_QUERIES.requests)), client.query(render(GUARD_QUERIES.errors))]);
  const reading = toReading(requests, errors);
  observe(observer, GUARD_METRIC, "error" in reading ? "error" : "pass", (performance.now() - started) / 1_000);
  return reading;
}

function toReading(requests: QueryResult, errors: QueryResult): GuardReading {
  for (const result of [requests, errors]) if (result.kind === "error") return { error: `prometheus: ${result.message}` };
  const count = (result: QueryResult) => (result.kind === "value" ? result.value : 0);
  const reading = { requests: count(requests), errors: count(errors) };
  if (!Number.isFinite(reading.requests) || !Number.isFinite(reading.errors)) return { error: "not a number" };
  return reading;
}
