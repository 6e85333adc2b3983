import { describe, expect, it } from "vitest";
import { builtInWindowMs, parsePromqlDuration, rangeProblem, rangeSelectors } from "../../src/analysis/ranges.js";
import { customQueryWarnings } from "../../src/analysis/templates.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";

describe("the built-ins' window", () => {
  it.each([
    [1_000, 1_000, 4_000],
    [1_000, 15_000, 60_000],
    [15_000, 15_000, 60_000],
    [300_000, 15_000, 300_000],
    [15_000, 1_000, 15_000],
  ])("is max(interval %d ms, 4 scrapes of %d ms) = %d ms", (intervalMs, scrapeIntervalMs, windowMs) => {
    expect(builtInWindowMs(intervalMs, scrapeIntervalMs)).toBe(windowMs);
  });
});

describe("range selectors in a query", () => {
  it.each([
    ["sum(rate(x[5m]))", ["5m"]],
    ["sum(rate(x[{{ interval }}])) / sum(rate(y[ 1m ]))", ["{{ interval }}", "1m"]],
    ['sum(rate(x{path=~"/api/[a-z]+"}[30s]))', ["30s"]],
    ["sum(rate(x{path=~'[0-9]'}[10s]))", ["10s"]],
    ["sum(rate(x{path=~`[0-9]\\`}[10s]))", ["10s"]],
    ['sum(rate(x{a="\\"[1s]"}[2m]))', ["2m"]],
    ["max_over_time(rate(x[1m])[30m:1m])", ["1m"]],
    ["sum(x) # not [1s] but a comment\n+ sum(rate(y[20s]))", ["20s"]],
    ["scalar(vector(0.5))", []],
  ])("%s has %j", (query, ranges) => {
    expect(rangeSelectors(query).map((range) => range.text)).toEqual(ranges);
  });

  it.each([
    ["30s", 30_000],
    ["1m30s", 90_000],
    ["500ms", 500],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1w", 604_800_000],
    ["{{ interval }}", undefined],
    ["1.5m", undefined],
    ["", undefined],
  ])("reads the PromQL duration %j as %j ms", (text, ms) => {
    expect(parsePromqlDuration(text)).toBe(ms);
  });
});

describe("a range too short for the scrape interval", () => {
  const at = (text: string) => ({ text, offset: 0 });

  it("is named with the fix: two scrapes at least, four better", () => {
    expect(rangeProblem(at("10s"), 15_000, 15_000)).toBe("the range [10s] covers fewer than 2 scrapes at a 15s scrape interval; use at least [30s] (4 scrapes: [1m])");
    expect(rangeProblem(at("1s"), 15_000, 1_000)).toBe("the range [1s] covers fewer than 2 scrapes at a 1s scrape interval; use at least [2s] (4 scrapes: [4s])");
  });

  it("judges [{{ interval }}] as it renders: the analysis interval", () => {
    expect(rangeProblem(at("{{ interval }}"), 10_000, 15_000)).toBe(
      "the range [{{ interval }}] (the analysis interval, 10s) covers fewer than 2 scrapes at a 15s scrape interval; write at least [30s] instead (4 scrapes: [1m]), or a longer spec.analysis.interval",
    );
    expect(rangeProblem(at("{{ interval }}"), 30_000, 15_000)).toBeUndefined();
  });

  it.each([["30s"], ["1m"], ["2d"], ["{{ stableVersion }}"], ["$__rate_interval"]])("is not reported for [%s]", (text) => {
    expect(rangeProblem(at(text), 15_000, 15_000)).toBeUndefined();
  });
});

describe("warnings about custom queries", () => {
  const spec = RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps: [{ setWeight: 10 }],
    analysis: {
      interval: "5s",
      metrics: [{ name: "success-rate" }, { name: "good", query: "sum(rate(x[1m]))", max: 1 }, { name: "short", query: 'sum(rate(x{v="{{ version }}"}[10s])) / sum(rate(y[{{ interval }}]))', max: 1 }],
    },
  });

  it("name each field with a short range, and leave built-ins and long ranges alone", () => {
    expect(customQueryWarnings(spec, 15_000)).toEqual([
      { path: ["spec", "analysis", "metrics", 2, "query"], message: expect.stringMatching(/^the range \[10s\] covers fewer than 2 scrapes/) },
      { path: ["spec", "analysis", "metrics", 2, "query"], message: expect.stringMatching(/^the range \[\{\{ interval \}\}\] \(the analysis interval, 5s\)/) },
    ]);
    expect(customQueryWarnings(spec, 1_000)).toEqual([]);
  });
});
