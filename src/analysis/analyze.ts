/**
 * One analysis run: every metric of a Rollout queried once, in parallel, and judged.
 * Built-in metrics share one request-count query per run (skipped when minRequests is 0).
 */
import type { MetricResult } from "../rollout/engine.js";
import type { Rollout } from "../rollout/model.js";
import type { CheckOutcome } from "../rollout/status.js";
import { classify, judgeTraffic, type TrafficVerdict } from "./classify.js";
import type { MetricsQuerier, QueryResult } from "./prometheus.js";
import { parseDuration } from "../rollout/duration.js";
import { querySample } from "./compare.js";
import { builtInWindowMs } from "./ranges.js";
import { builtInVariables, DEFAULT_INTERVAL_MS, isBuiltIn, queryTemplate, renderQuery, REQUEST_COUNT_QUERY } from "./templates.js";

export interface AnalysisContext {
  canaryVersion: string;
  stableVersion: string;
}

/** Told about every Prometheus query of a run, e.g. to feed a prom-client histogram. */
export type QueryObserver = (metric: string, outcome: CheckOutcome, seconds: number) => void;

export interface AnalysisOptions {
  /** How often Prometheus scrapes: the built-in metrics look over at least four scrapes. */
  scrapeIntervalMs: number;
  /** Called once per query with the metric's outcome and the query's duration in seconds. */
  observe?: QueryObserver;
}

/**
 * The name the request-count query is observed under. Not a valid metric name (those are DNS
 * labels), so it never collides with a user's metric.
 */
export const REQUEST_COUNT_METRIC = "built-in:requests";

export async function runAnalysis(client: MetricsQuerier, rollout: Rollout, context: AnalysisContext, options: AnalysisOptions): Promise<MetricResult[]> {
  const analysis = rollout.spec.analysis;
  if (!analysis) return [];
  const variables = builtInVariables(rollout, context, options.scrapeIntervalMs);
  const countsTraffic = analysis.minRequests > 0 && analysis.metrics.some(isBuiltIn);

  const intervalMs = parseDuration(analysis.interval) ?? DEFAULT_INTERVAL_MS;
  const windowMs = builtInWindowMs(intervalMs, options.scrapeIntervalMs);
  const [count, measured, samples] = await Promise.all([
    countsTraffic ? timedQuery(client, renderQuery(REQUEST_COUNT_QUERY, variables)) : undefined,
    Promise.all(analysis.metrics.map((metric) => timedQuery(client, renderQuery(queryTemplate(metric), variables)))),
    Promise.all(analysis.metrics.map((metric) => (isBuiltIn(metric) && metric.compare ? querySample(client, rollout, metric.name, variables, intervalMs, windowMs) : undefined))),
  ]);

  const traffic: TrafficVerdict | undefined = count ? judgeTraffic(count.result, analysis.minRequests) : undefined;
  if (count && traffic) observe(options.observe, REQUEST_COUNT_METRIC, trafficOutcome(traffic), count.seconds);

  return analysis.metrics.map((metric, index) => {
    const { result, seconds } = measured[index] ?? { result: { kind: "error", message: "not queried" }, seconds: 0 };
    const judged = classify(metric, result, isBuiltIn(metric) ? traffic : undefined);
    observe(options.observe, metric.name, judged.outcome, seconds);
    const sample = samples[index];
    if (sample === undefined) return judged;
    // The engine judges the comparison against the evidence in status; a sample it cannot have is an error.
    if (sample.kind === "error") return { name: metric.name, outcome: "error", value: null, message: sample.message };
    return { ...judged, comparison: sample.comparison };
  });
}

/** One line for Slack and the log: "success-rate pass: 0.9987 >= 0.99; latency-p99 fail: 612 > 500". */
export function describeResults(results: readonly MetricResult[]): string {
  if (results.length === 0) return "no metrics";
  return results.map((result) => `${result.name} ${result.outcome}: ${result.message}`).join("; ");
}

async function timedQuery(client: MetricsQuerier, promql: string): Promise<{ result: QueryResult; seconds: number }> {
  const started = performance.now();
  let result: QueryResult;
  try {
    result = await client.query(promql);
  } catch (error) {
    // MetricsQuerier promises not to throw; a run still yields one result per metric if one does.
    result = { kind: "error", message: error instanceof Error ? error.message : "query failed" };
  }
  return { result, seconds: (performance.now() - started) / 1_000 };
}

function trafficOutcome(traffic: TrafficVerdict): CheckOutcome {
  if (traffic.kind === "error") return "error";
  return traffic.kind === "too-little" ? "inconclusive" : "pass";
}

export function observe(observer: QueryObserver | undefined, metric: string, outcome: CheckOutcome, seconds: number): void {
  try {
    observer?.(metric, outcome, seconds);
  } catch {
    // Recording a duration must never change an analysis run.
  }
}
