/**
 * Judging one metric's query result: pass, fail, inconclusive (too little traffic, no data, NaN)
 * or error (Prometheus could not answer). Pure; analyze.ts does the querying.
 */
import { metricThresholds } from "../rollout/model.js";
import type { MetricResult } from "../rollout/engine.js";
import type { Metric } from "../rollout/schema.js";
import type { QueryResult } from "./prometheus.js";

/** What the canary's request count says about the built-in metrics. */
export type TrafficVerdict = { kind: "enough" } | { kind: "too-little"; message: string } | { kind: "error"; message: string };

/** Empty means no series yet, i.e. no requests at all. */
export function judgeTraffic(count: QueryResult, minRequests: number): TrafficVerdict {
  if (count.kind === "error") return { kind: "error", message: `prometheus: ${count.message}` };
  const requests = count.kind === "value" && Number.isFinite(count.value) ? count.value : 0;
  if (requests >= minRequests) return { kind: "enough" };
  return { kind: "too-little", message: `${formatNumber(requests, minRequests)} requests < ${minRequests} (minRequests)` };
}

/**
 * One metric's result. `traffic` is given for built-in metrics (whose evidence needs enough
 * requests) and undefined for custom ones or when minRequests is 0.
 */
export function classify(metric: Metric, result: QueryResult, traffic?: TrafficVerdict): MetricResult {
  const name = metric.name;
  if (result.kind === "error") return { name, outcome: "error", value: null, message: `prometheus: ${result.message}` };
  if (traffic?.kind === "error") return { name, outcome: "error", value: null, message: traffic.message };
  const value = result.kind === "value" && Number.isFinite(result.value) ? result.value : null;
  if (traffic?.kind === "too-little") return { name, outcome: "inconclusive", value, message: traffic.message };
  if (result.kind === "empty") return { name, outcome: "inconclusive", value: null, message: "no data" };
  if (value === null) return { name, outcome: "inconclusive", value: null, message: spellNonFinite(result.value) };

  const { min, max } = metricThresholds(metric);
  if (min !== undefined && value < min) return { name, outcome: "fail", value, message: `${formatNumber(value, min)} < ${min}` };
  if (max !== undefined && value > max) return { name, outcome: "fail", value, message: `${formatNumber(value, max)} > ${max}` };
  const checks = [...(min !== undefined ? [`>= ${min}`] : []), ...(max !== undefined ? [`<= ${max}`] : [])];
  const shown = formatNumber(value, ...[min, max].filter((bound) => bound !== undefined));
  return { name, outcome: "pass", value, message: checks.length > 0 ? `${shown} ${checks.join(" and ")}` : shown };
}

function spellNonFinite(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}

/**
 * Four significant digits, or as many more as it takes not to look equal to a threshold it
 * differs from (0.98996 is shown as "0.98996 < 0.99", never "0.99 < 0.99").
 */
export function formatNumber(value: number, ...thresholds: number[]): string {
  if (!Number.isFinite(value)) return spellNonFinite(value);
  for (let digits = 4; digits <= 17; digits++) {
    const shown = Number(value.toPrecision(digits));
    if (thresholds.every((threshold) => threshold === value || shown !== threshold)) return String(shown);
  }
  return String(value);
}
