import { describe, expect, it } from "vitest";
import {
  BUILT_IN_QUERIES,
  builtInVariables,
  escapeLabelValue,
  ISTIO_LABELS,
  ISTIO_METRICS,
  promqlRange,
  queryTemplate,
  queryVariables,
  renderQuery,
  REQUEST_COUNT_QUERY,
  type QueryVariables,
} from "../../src/analysis/templates.js";
import { BUILT_IN_METRICS, RolloutSpecSchema } from "../../src/rollout/schema.js";
import { QUERY_VARIABLES } from "../../src/rollout/template.js";

const VARIABLES: QueryVariables = {
  service: "reviews",
  destinationService: "reviews",
  namespace: "bookinfo",
  version: "v2",
  canaryVersion: "v2",
  stableVersion: "v1",
  interval: "15s",
};
/** The built-ins' variables at a 15s interval and a 15s scrape interval: four scrapes, 1m. */
const BUILT_IN_VARIABLES = { ...VARIABLES, window: "1m" };

const specWith = (analysis: Record<string, unknown>) =>
  RolloutSpecSchema.parse({
    service: "reviews",
    version: "v2",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps: [{ setWeight: 10 }],
    analysis: { metrics: [{ name: "success-rate" }], ...analysis },
  });

/** The one double-quoted string of `name="..."` in a query, decoded (PromQL's escapes match JSON's here). */
function labelValue(query: string, name: string): string | undefined {
  const match = new RegExp(`${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(query);
  return match?.[1] === undefined ? undefined : (JSON.parse(`"${match[1]}"`) as string);
}

describe("rendering metric queries", () => {
  it("fills every query variable", () => {
    const template = QUERY_VARIABLES.map((name) => `${name}="{{ ${name} }}"`).join(",");
    expect(renderQuery(template, VARIABLES)).toBe('service="reviews",namespace="bookinfo",version="v2",canaryVersion="v2",stableVersion="v1",interval="15s"');
  });

  it.each([
    ["a double quote", 'v2"} or vector(1) or x{a="'],
    ["a backslash", "v2\\"],
    ["a backslash before a quote", 'v2\\"} or vector(1) #'],
    ["a newline", "v2\n} or vector(1)"],
    ["a carriage return and a tab", "v2\r\t"],
  ])("keeps a version containing %s inside its label value", (_, version) => {
    const query = renderQuery('x{version="{{ version }}", ns="{{ namespace }}"}', { ...VARIABLES, version });
    expect(labelValue(query, "version")).toBe(version);
    expect(labelValue(query, "ns")).toBe("bookinfo");
    expect(query.endsWith('ns="bookinfo"}')).toBe(true);
  });

  it.each([
    ["\\", "\\\\"],
    ['"', '\\"'],
    ["\n", "\\n"],
    ["plain-v1.2_3", "plain-v1.2_3"],
  ])("escapes %j as %j", (raw, escaped) => {
    expect(escapeLabelValue(raw)).toBe(escaped);
  });
});

describe("the interval variable", () => {
  it.each([
    [15_000, "15s"],
    [5_000, "5s"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [500, "1s"],
    [0, "1s"],
    [1_400, "1s"],
    [2_600, "3s"],
  ])("writes %d ms as the PromQL range %s", (ms, range) => {
    expect(promqlRange(ms)).toBe(range);
  });

  it("comes from the analysis interval, with the canary as the version being checked", () => {
    const spec = RolloutSpecSchema.parse({
      service: "reviews",
      version: "v2",
      trafficRouting: { istio: { virtualService: { name: "reviews" } } },
      steps: [{ setWeight: 10 }],
      analysis: { interval: "1m30s", metrics: [{ name: "success-rate" }] },
    });
    expect(queryVariables({ name: "reviews", namespace: "bookinfo", spec }, { canaryVersion: "v2", stableVersion: "v1" })).toEqual({
      service: "reviews",
      destinationService: "reviews",
      namespace: "bookinfo",
      version: "v2",
      canaryVersion: "v2",
      stableVersion: "v1",
      interval: "1m30s",
    });
  });

  it("selects the version's own Service in the built-in queries when each version has a host", () => {
    for (const [host, expected] of [
      ["reviews-{{ version }}", "reviews-v2"],
      ["{{ service }}-{{ version }}.{{ namespace }}.svc.cluster.local", "reviews-v2"],
    ] as const) {
      const spec = RolloutSpecSchema.parse({
        service: "reviews",
        version: "v2",
        trafficRouting: { istio: { virtualService: { name: "reviews" }, host } },
        steps: [{ setWeight: 10 }],
        analysis: { metrics: [{ name: "success-rate" }] },
      });
      const variables = builtInVariables({ name: "reviews", namespace: "bookinfo", spec }, { canaryVersion: "v2", stableVersion: "v1" }, 15_000);
      expect(variables).toMatchObject({ service: "reviews", destinationService: expected });
      expect(renderQuery(BUILT_IN_QUERIES["success-rate"], variables)).toContain(`destination_service_name="${expected}"`);
    }
  });
});

describe("the built-ins' window", () => {
  it.each([
    ["1s", 1_000, "4s"],
    ["1s", 15_000, "1m"],
    ["15s", 15_000, "1m"],
    ["15s", 1_000, "15s"],
    ["1m30s", 15_000, "1m30s"],
    ["5m", 30_000, "5m"],
    ["10s", 5_000, "20s"],
  ])("is the larger of the interval %s and four scrapes of %d ms: %s", (interval, scrapeIntervalMs, window) => {
    const variables = builtInVariables({ name: "reviews", namespace: "bookinfo", spec: specWith({ interval }) }, { canaryVersion: "v2", stableVersion: "v1" }, scrapeIntervalMs);
    expect(variables.window).toBe(window);
    expect(variables.interval).toBe(interval); // {{ interval }} in a user's query stays the analysis interval
    expect(renderQuery(BUILT_IN_QUERIES["success-rate"], variables)).toContain(`[${window}]`);
  });
});

describe("the built-in queries", () => {
  const canarySelector = ['reporter="destination"', 'destination_service_name="reviews"', 'destination_service_namespace="bookinfo"', 'destination_version="v2"'].join(", ");

  it("document exactly the Istio labels they rely on", () => {
    expect(ISTIO_LABELS).toEqual(["reporter", "destination_service_name", "destination_service_namespace", "destination_version", "response_code"]);
    for (const template of [...Object.values(BUILT_IN_QUERIES), REQUEST_COUNT_QUERY]) {
      const used = [...template.matchAll(/([a-z_]+)\s*(?:=|!=|=~|!~)\s*"/g)].map((m) => m[1]);
      for (const label of used) expect(ISTIO_LABELS).toContain(label);
    }
  });

  it("has a template for every built-in metric", () => {
    for (const name of BUILT_IN_METRICS) expect(queryTemplate({ name })).toBe(BUILT_IN_QUERIES[name]);
    expect(queryTemplate({ name: "checkout-errors", query: "sum(x)", max: 1 })).toBe("sum(x)");
  });

  it("measures success-rate as the canary's non-5xx share, counting an all-5xx canary as 0", () => {
    expect(renderQuery(BUILT_IN_QUERIES["success-rate"], BUILT_IN_VARIABLES)).toBe(
      `(sum(rate(istio_requests_total{${canarySelector}, response_code!~"5.."}[1m])) or vector(0))` + ` / sum(rate(istio_requests_total{${canarySelector}}[1m]))`,
    );
  });

  it("measures latency-p99 from the canary's duration histogram", () => {
    expect(renderQuery(BUILT_IN_QUERIES["latency-p99"], BUILT_IN_VARIABLES)).toBe(`histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{${canarySelector}}[1m])) by (le))`);
  });

  it("counts the canary's requests over the same window as the metrics they qualify", () => {
    expect(renderQuery(REQUEST_COUNT_QUERY, BUILT_IN_VARIABLES)).toBe(`sum(increase(istio_requests_total{${canarySelector}}[1m]))`);
  });

  it("queries Istio's standard metric names", () => {
    expect(ISTIO_METRICS).toEqual({ requests: "istio_requests_total", duration: "istio_request_duration_milliseconds" });
  });
});
