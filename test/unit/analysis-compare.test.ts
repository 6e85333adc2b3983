import { describe, expect, it } from "vitest";
import { runAnalysis } from "../../src/analysis/analyze.js";
import { slowBoundMs } from "../../src/analysis/compare.js";
import type { MetricsQuerier, QueryResult } from "../../src/analysis/prometheus.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";

const rollout = (metrics: unknown[]): Rollout => ({
  name: "reviews",
  namespace: "bookinfo",
  spec: RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps: [{ setWeight: 10 }, { pause: "1m" }],
    analysis: { interval: "15s", minRequests: 0, metrics },
  }),
});

/** Prometheus as a table: the first rule whose pattern matches the query answers it. */
function prometheus(rules: [RegExp, QueryResult][]): MetricsQuerier & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    query: async (promql: string) => {
      queries.push(promql);
      return rules.find(([pattern]) => pattern.test(promql))?.[1] ?? { kind: "empty" };
    },
  };
}

const value = (v: number): QueryResult => ({ kind: "value", value: v });
const context = { canaryVersion: "v2", stableVersion: "v1" };

describe("the counts a comparison is judged on", () => {
  it("are both versions' requests and 5xx in the same window, as counts per analysis interval", async () => {
    const client = prometheus([
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v2", response_code=~"5\.\."/, value(0.1)],
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v2"\}/, value(2)],
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v1", response_code=~"5\.\."/, value(0.2)],
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v1"\}/, value(18)],
      [/^\(sum/, value(0.95)],
    ]);
    const [result] = await runAnalysis(client, rollout([{ name: "success-rate", compare: { maxIncrease: 0.5 } }]), context, { scrapeIntervalMs: 1_000 });
    expect(result).toMatchObject({ outcome: "pass", value: 0.95, comparison: { sample: { canary: { requests: 30 }, stable: { requests: 270 } } } });
    expect(result?.comparison?.sample.canary.bad).toBeCloseTo(1.5, 10);
    expect(result?.comparison?.sample.stable.bad).toBeCloseTo(3, 10);
    expect(client.queries.filter((q) => q.includes("[15s]")).length).toBe(client.queries.length);
    expect(result?.comparison?.windowMs).toBe(15_000);
  });

  it("say how far back they reach: a minute (four scrapes of 15 s) for a 15 s interval, so the engine can leave out a window that began before its step", async () => {
    const client = prometheus([[/^sum\(rate\(istio_requests_total/, value(2)]]);
    const [result] = await runAnalysis(client, rollout([{ name: "success-rate", compare: { maxIncrease: 0.5 } }]), context, { scrapeIntervalMs: 15_000 });
    expect(result?.comparison).toMatchObject({ windowMs: 60_000, sample: { canary: { requests: 30 } } });
    expect(client.queries.every((q) => q.includes("[1m]"))).toBe(true);
  });

  it("count a latency-p99 request as bad when it is slower than the stable's p99 bucket's lower bound", async () => {
    const client = prometheus([
      [/^histogram_quantile\(0\.99, [^]*destination_version="v1"/, value(180)],
      [/_bucket\{[^}]*destination_version="v2", le=~"100\|100\.0"/, value(1.6)],
      [/_bucket\{[^}]*destination_version="v1", le=~"100\|100\.0"/, value(17.1)],
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v2"\}/, value(2)],
      [/^sum\(rate\(istio_requests_total\{[^}]*destination_version="v1"\}/, value(18)],
    ]);
    const [result] = await runAnalysis(client, rollout([{ name: "latency-p99", compare: { maxIncrease: 0.2 } }]), context, { scrapeIntervalMs: 1_000 });
    expect(result?.comparison?.slowerThanMs).toBe(100);
    expect(result?.comparison?.sample.canary.bad).toBeCloseTo(6, 10);
    expect(result?.comparison?.sample.stable.bad).toBeCloseTo(13.5, 10);
  });

  it("are an error, not a sample, when Prometheus cannot answer", async () => {
    const client = prometheus([[/response_code=~"5\.\."/, { kind: "error", message: "HTTP 503" }]]);
    const [result] = await runAnalysis(client, rollout([{ name: "success-rate", compare: { maxIncrease: 0.5 } }]), context, { scrapeIntervalMs: 1_000 });
    expect(result).toEqual({ name: "success-rate", outcome: "error", value: null, message: "prometheus: HTTP 503" });
  });

  it.each([
    [180, 100],
    [250, 250],
    [0.2, 0.5],
    [Number.NaN, 0.5],
  ])("take a stable p99 of %s ms to the bucket bound %s ms", (p99, bound) => {
    expect(slowBoundMs(p99)).toBe(bound);
  });
});
