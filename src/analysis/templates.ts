/**
 * Built-in PromQL for Istio's standard telemetry, and how metric query templates are rendered.
 *
 * The built-ins select the canary's server-side view of its traffic, with the labels Istio's
 * standard metrics carry (https://istio.io/latest/docs/reference/config/metrics/):
 *   reporter="destination"                    the receiving sidecar's report (one per request)
 *   destination_service_name                  the short name of the Service the canary's requests go
 *                                             to: "reviews" with subsets, "reviews-v2" with host: reviews-{{ version }}
 *   destination_service_namespace="{{ namespace }}"
 *   destination_version="{{ version }}"       the pod's `version` label, i.e. the release
 *   response_code                             HTTP status as text, e.g. "200", "503"
 *   le                                        histogram bucket bound of istio_request_duration_milliseconds
 * A mesh simulator exporting these labels (and no fewer) is enough for every built-in metric.
 */
import { parseDuration } from "../rollout/duration.js";
import { destinationServiceName } from "../rollout/destination.js";
import type { Rollout } from "../rollout/model.js";
import { BUILT_IN_METRICS, type BuiltInMetric, type Metric, type RolloutSpec } from "../rollout/schema.js";
import { renderTemplate, type QUERY_VARIABLES } from "../rollout/template.js";
import { builtInWindowMs, promqlRange, rangeProblem, rangeSelectors } from "./ranges.js";

export { promqlRange } from "./ranges.js";

/** Istio's request counter and request-duration histogram (milliseconds), as the built-ins query them. */
export const ISTIO_METRICS = {
  requests: "istio_requests_total",
  duration: "istio_request_duration_milliseconds",
} as const;

/** The label names the built-in queries rely on (besides the histogram's `le`). */
export const ISTIO_LABELS = ["reporter", "destination_service_name", "destination_service_namespace", "destination_version", "response_code"] as const;
export type IstioLabel = (typeof ISTIO_LABELS)[number];

/** Istio's default bucket bounds for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000] as const;

/**
 * The canary's requests as its own sidecars report them. `destinationService` is the Kubernetes
 * Service the canary's requests go to: spec.service with subsets, the version's own Service
 * (e.g. "reviews-v2") with `host:`. It is not a variable users can write in their templates.
 */
export const CANARY_SELECTOR = [
  'reporter="destination"',
  'destination_service_name="{{ destinationService }}"',
  'destination_service_namespace="{{ namespace }}"',
  'destination_version="{{ version }}"',
].join(", ");

const requests = (extra = "") => `${ISTIO_METRICS.requests}{${CANARY_SELECTOR}${extra}}`;

/**
 * PromQL templates of the built-in metrics, over `{{ window }}` (see builtInVariables). Success-rate
 * falls back to 0 successes (`or vector(0)`) so that a canary answering only 5xx fails instead of
 * having "no data".
 */
export const BUILT_IN_QUERIES: Readonly<Record<BuiltInMetric, string>> = {
  "success-rate": `(sum(rate(${requests(', response_code!~"5.."')}[{{ window }}])) or vector(0))` + ` / sum(rate(${requests()}[{{ window }}]))`,
  "latency-p99": `histogram_quantile(0.99, sum(rate(${ISTIO_METRICS.duration}_bucket{${CANARY_SELECTOR}}[{{ window }}])) by (le))`,
};

/** The canary's requests over the built-ins' window: below `minRequests`, built-in metrics are inconclusive. */
export const REQUEST_COUNT_QUERY = `sum(increase(${requests()}[{{ window }}]))`;

export type QueryVariables = Readonly<Record<(typeof QUERY_VARIABLES)[number] | "destinationService", string>>;

/** The variables of the built-in queries: a user's, plus the range they look over. Not a variable users can write. */
export type BuiltInVariables = QueryVariables & { readonly window: string };

export function isBuiltIn(metric: Metric): metric is Metric & { name: BuiltInMetric } {
  return (BUILT_IN_METRICS as readonly string[]).includes(metric.name);
}

/** The metric's PromQL template: the built-in one, or the user's `query`. */
export function queryTemplate(metric: Metric): string {
  if (isBuiltIn(metric)) return BUILT_IN_QUERIES[metric.name];
  // The schema requires a query on every metric that is not built in.
  return metric.query ?? "";
}

/** Escapes text for the inside of a PromQL double-quoted string, so it cannot end the string. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c] ?? c);
}

/**
 * Renders a query template. Every variable is escaped for a double-quoted label value; a variable
 * placed in a regex matcher (`=~`) is not regex-escaped.
 */
export function renderQuery(template: string, variables: QueryVariables): string {
  return renderTemplate(template, variables, escapeLabelValue);
}

export const DEFAULT_INTERVAL_MS = 15_000;

/** The variables of one analysis run; `version` is the version being checked (the canary). */
export function queryVariables(rollout: Rollout, context: { canaryVersion: string; stableVersion: string }): QueryVariables {
  const interval = rollout.spec.analysis ? parseDuration(rollout.spec.analysis.interval) : undefined;
  return {
    service: rollout.spec.service,
    destinationService: destinationServiceName(rollout, context.canaryVersion),
    namespace: rollout.namespace,
    version: context.canaryVersion,
    canaryVersion: context.canaryVersion,
    stableVersion: context.stableVersion,
    interval: promqlRange(interval ?? DEFAULT_INTERVAL_MS),
  };
}

/**
 * Every query's variables, with the built-ins' window: the analysis interval, or four scrapes when
 * that is longer, so that `interval: 1s` still gives rate() the samples it needs. `{{ interval }}`
 * in a user's query stays the analysis interval; `tideway validate` warns when it is too short.
 */
export function builtInVariables(rollout: Rollout, context: { canaryVersion: string; stableVersion: string }, scrapeIntervalMs: number): BuiltInVariables {
  const intervalMs = (rollout.spec.analysis ? parseDuration(rollout.spec.analysis.interval) : undefined) ?? DEFAULT_INTERVAL_MS;
  return { ...queryVariables(rollout, context), window: promqlRange(builtInWindowMs(intervalMs, scrapeIntervalMs)) };
}

/** Range selectors in custom queries that cover fewer than two scrapes: each field's path and what to write instead. */
export function customQueryWarnings(spec: RolloutSpec, scrapeIntervalMs: number): { path: (string | number)[]; message: string }[] {
  const analysis = spec.analysis;
  if (!analysis) return [];
  const intervalMs = parseDuration(analysis.interval) ?? DEFAULT_INTERVAL_MS;
  return analysis.metrics.flatMap((metric, index) => {
    if (isBuiltIn(metric) || metric.query === undefined) return [];
    const problems = rangeSelectors(metric.query).map((range) => rangeProblem(range, intervalMs, scrapeIntervalMs));
    return problems.flatMap((message) => (message === undefined ? [] : [{ path: ["spec", "analysis", "metrics", index, "query"], message }]));
  });
}
