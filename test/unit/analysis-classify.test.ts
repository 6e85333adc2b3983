import { describe, expect, it } from "vitest";
import { describeResults } from "../../src/analysis/analyze.js";
import { classify, formatNumber, judgeTraffic, type TrafficVerdict } from "../../src/analysis/classify.js";
import type { QueryResult } from "../../src/analysis/prometheus.js";
import type { Metric } from "../../src/rollout/schema.js";

const value = (v: number): QueryResult => ({ kind: "value", value: v });
const EMPTY: QueryResult = { kind: "empty" };
const ENOUGH: TrafficVerdict = { kind: "enough" };

describe("judging a metric's value", () => {
  it.each<[string, Metric, QueryResult, string, number | null, string]>([
    ["passes success-rate at or above its min", { name: "success-rate", min: 0.99 }, value(0.9987), "pass", 0.9987, "0.9987 >= 0.99"],
    ["passes success-rate exactly at its min", { name: "success-rate", min: 0.99 }, value(0.99), "pass", 0.99, "0.99 >= 0.99"],
    ["fails success-rate below its min", { name: "success-rate", min: 0.99 }, value(0.7012345), "fail", 0.7012345, "0.7012 < 0.99"],
    ["uses success-rate's default min of 0.99", { name: "success-rate" }, value(0.95), "fail", 0.95, "0.95 < 0.99"],
    ["uses latency-p99's default max of 500", { name: "latency-p99" }, value(612.3456), "fail", 612.3456, "612.3 > 500"],
    ["passes latency-p99 at or below its max", { name: "latency-p99", max: 500 }, value(49.75), "pass", 49.75, "49.75 <= 500"],
    ["checks both bounds when both are given", { name: "queue-depth", query: "q", min: 1, max: 10 }, value(5), "pass", 5, "5 >= 1 and <= 10"],
    ["fails above max when both are given", { name: "queue-depth", query: "q", min: 1, max: 10 }, value(11), "fail", 11, "11 > 10"],
    ["shows enough digits not to look equal to the threshold", { name: "success-rate", min: 0.99 }, value(0.98996), "fail", 0.98996, "0.98996 < 0.99"],
    ["calls an empty result no data", { name: "success-rate" }, EMPTY, "inconclusive", null, "no data"],
    ["calls NaN (0/0 without traffic) inconclusive", { name: "success-rate" }, value(NaN), "inconclusive", null, "NaN"],
    ["calls +Inf inconclusive", { name: "latency-p99" }, value(Infinity), "inconclusive", null, "+Inf"],
    ["calls -Inf inconclusive", { name: "errors", query: "q", max: 1 }, value(-Infinity), "inconclusive", null, "-Inf"],
    ["reports a Prometheus error as an error", { name: "success-rate" }, { kind: "error", message: "HTTP 503: down" }, "error", null, "prometheus: HTTP 503: down"],
  ])("%s", (_, metric, result, outcome, expectedValue, message) => {
    expect(classify(metric, result, ENOUGH)).toEqual({ name: metric.name, outcome, value: expectedValue, message });
  });

  it("keeps the exact value while rounding the message", () => {
    expect(classify({ name: "success-rate" }, value(0.123456789), ENOUGH).value).toBe(0.123456789);
  });
});

describe("judging the canary's traffic for the built-in metrics", () => {
  it.each<[string, QueryResult, number, TrafficVerdict]>([
    ["enough at minRequests", value(20), 20, { kind: "enough" }],
    ["too little below minRequests", value(12), 20, { kind: "too-little", message: "12 requests < 20 (minRequests)" }],
    ["too little with a fractional (extrapolated) count", value(19.9996), 20, { kind: "too-little", message: "19.9996 requests < 20 (minRequests)" }],
    ["no series as no requests", EMPTY, 20, { kind: "too-little", message: "0 requests < 20 (minRequests)" }],
    ["a failed count query as an error", { kind: "error", message: "HTTP 503: down" }, 20, { kind: "error", message: "prometheus: HTTP 503: down" }],
  ])("counts %s", (_, count, minRequests, verdict) => {
    expect(judgeTraffic(count, minRequests)).toEqual(verdict);
  });

  it("makes a built-in metric inconclusive on too little traffic, keeping its value", () => {
    const traffic = judgeTraffic(value(12), 20);
    expect(classify({ name: "success-rate" }, value(1), traffic)).toEqual({
      name: "success-rate",
      outcome: "inconclusive",
      value: 1,
      message: "12 requests < 20 (minRequests)",
    });
  });

  it("makes a built-in metric an error when the count cannot be read", () => {
    const traffic = judgeTraffic({ kind: "error", message: "timed out" }, 20);
    expect(classify({ name: "latency-p99" }, value(40), traffic)).toMatchObject({ outcome: "error", value: null, message: "prometheus: timed out" });
  });

  it("prefers the metric's own Prometheus error over too little traffic", () => {
    const traffic = judgeTraffic(value(1), 20);
    expect(classify({ name: "success-rate" }, { kind: "error", message: "HTTP 400: bad" }, traffic).outcome).toBe("error");
  });
});

describe("numbers in messages", () => {
  it.each<[number, number[], string]>([
    [0.7000001, [], "0.7"],
    [123456, [], "123500"],
    [49.75, [], "49.75"],
    [0.98996, [0.99], "0.98996"],
    [0.99, [0.99], "0.99"],
    [NaN, [], "NaN"],
  ])("writes %d (thresholds %j) as %s", (n, thresholds, text) => {
    expect(formatNumber(n, ...thresholds)).toBe(text);
  });
});

describe("describing a run in one line", () => {
  it("lists every metric with its outcome and message", () => {
    expect(
      describeResults([
        { name: "success-rate", outcome: "pass", value: 0.9987, message: "0.9987 >= 0.99" },
        { name: "latency-p99", outcome: "fail", value: 612, message: "612 > 500" },
      ]),
    ).toBe("success-rate pass: 0.9987 >= 0.99; latency-p99 fail: 612 > 500");
  });

  it("says so when there are no metrics", () => {
    expect(describeResults([])).toBe("no metrics");
  });
});
