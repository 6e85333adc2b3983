import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { PrometheusDriver } from "prometheus-query";
import { afterEach, describe, expect, it } from "vitest";
import { ISTIO_DURATION_BUCKETS_MS, ISTIO_LABELS as ANALYSIS_LABELS } from "../../src/analysis/templates.js";
import { createMesh, VS, waitForReadyEndpoints, waitUntil } from "../env/index.js";
import { MeshConfigError, parseRoutingTable, routeRequest, type RoutingResult, type RoutingScope } from "../env/mesh-routing.js";
import { DURATION_BUCKETS, ISTIO_LABELS, startMeshSimulator, type MeshSimulator, type TrafficSnapshot } from "../env/mesh-simulator.js";
import { kubeConfig, services, uniqueName } from "./services.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const headerRoute = { name: "canary-header", match: [{ headers: { "x-canary": { exact: "true" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] };
const primary = (v1: number, v2: number) => ({
  name: "primary",
  route: [
    { destination: { host: "reviews", subset: "v1" }, weight: v1 },
    { destination: { host: "reviews", subset: "v2" }, weight: v2 },
  ],
});

/** Requests per version, response code and header use between two snapshots. */
function trafficBetween(before: TrafficSnapshot, after: TrafficSnapshot) {
  const versions: Record<string, { requests: number; withHeaders: number; errors: number }> = {};
  for (const [version, now] of Object.entries(after.versions)) {
    const then = before.versions[version];
    versions[version] = {
      requests: now.requests - (then?.requests ?? 0),
      withHeaders: now.withHeaders - (then?.withHeaders ?? 0),
      errors: (now.responseCodes["503"] ?? 0) - (then?.responseCodes["503"] ?? 0),
    };
  }
  const routed = Object.values(versions).reduce((sum, v) => sum + v.requests, 0);
  const share = (version: string) => (versions[version]?.requests ?? 0) / routed;
  return { versions, routed, share };
}

describe("routing a simulated request the way Istio does", () => {
  const scope: RoutingScope = { namespace: "shop", service: "reviews", versionFrom: "subset" };
  const spec = (http: unknown[], hosts = ["reviews"]) => ({ metadata: {}, spec: { hosts, http } });
  const route = (http: unknown[], headers: Record<string, string> = {}, at = 0.5, routing = scope) => routeRequest(parseRoutingTable(spec(http), routing, "shop/reviews"), { headers }, () => at);

  it.each<{ case: string; http: unknown[]; headers: Record<string, string>; at: number; expected: RoutingResult }>([
    { case: "a request with the header takes the header route", http: [headerRoute, primary(100, 0)], headers: { "x-canary": "true" }, at: 0.99, expected: { version: "v2" } },
    { case: "a request without it falls through to the weights", http: [headerRoute, primary(100, 0)], headers: {}, at: 0.99, expected: { version: "v1" } },
    { case: "a header with another value does not match", http: [headerRoute, primary(100, 0)], headers: { "x-canary": "false" }, at: 0.5, expected: { version: "v1" } },
    { case: "the weights split a draw below 80 to v1", http: [primary(80, 20)], headers: {}, at: 0.79, expected: { version: "v1" } },
    { case: "the weights split a draw of 80 and above to v2", http: [primary(80, 20)], headers: {}, at: 0.8, expected: { version: "v2" } },
    { case: "a lone destination without a weight takes everything", http: [{ route: [{ destination: { host: "reviews", subset: "v3" } }] }], headers: {}, at: 0.99, expected: { version: "v3" } },
    {
      case: "a prefix header match",
      http: [{ match: [{ headers: { "x-user": { prefix: "beta-" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }, primary(100, 0)],
      headers: { "x-user": "beta-7" },
      at: 0.5,
      expected: { version: "v2" },
    },
    {
      case: "a regex header match is anchored",
      http: [{ match: [{ headers: { "x-user": { regex: "beta" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }, primary(100, 0)],
      headers: { "x-user": "beta-7" },
      at: 0.5,
      expected: { version: "v1" },
    },
    {
      case: "withoutHeaders matches requests lacking the header",
      http: [{ match: [{ withoutHeaders: { "x-canary": {} } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }, primary(100, 0)],
      headers: {},
      at: 0.5,
      expected: { version: "v2" },
    },
    {
      case: "a uri prefix of / matches every request",
      http: [{ match: [{ uri: { prefix: "/" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }],
      headers: {},
      at: 0.5,
      expected: { version: "v2" },
    },
    {
      case: "a destination of another service reaches no version",
      http: [{ route: [{ destination: { host: "ratings", subset: "v1" } }] }],
      headers: {},
      at: 0.5,
      expected: { unrouted: "destination ratings is not a version of the service" },
    },
    { case: "a request no route matches is unrouted", http: [headerRoute], headers: {}, at: 0.5, expected: { unrouted: "no http route matched" } },
  ])("$case", ({ http, headers, at, expected }) => {
    expect(route(http, headers, at)).toEqual(expected);
  });

  it("reads the version from the host when destinations are hosts like reviews-v2", () => {
    const http = [
      {
        route: [
          { destination: { host: "reviews-v1.shop.svc.cluster.local" }, weight: 10 },
          { destination: { host: "reviews-v2" }, weight: 90 },
        ],
      },
    ];
    expect(route(http, {}, 0.5, { ...scope, versionFrom: "host" })).toEqual({ version: "v2" });
    expect(route(http, {}, 0.05, { ...scope, versionFrom: "host" })).toEqual({ version: "v1" });
  });

  it.each([
    { case: "weights that do not sum to 100", http: [primary(50, 40)], hosts: ["reviews"], scope, message: 'http route "primary": weights sum to 90, expected 100' },
    { case: "no http routes", http: [], hosts: ["reviews"], scope, message: "has no http routes" },
    { case: "hosts that are not the service", http: [primary(100, 0)], hosts: ["ratings"], scope, message: "do not include service reviews" },
    { case: "a followed route that does not exist", http: [primary(100, 0)], hosts: ["reviews"], scope: { ...scope, routes: ["main"] }, message: 'no http route named "main" (it has: primary)' },
    {
      case: "an invalid regex",
      http: [{ match: [{ headers: { a: { regex: "(" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }],
      hosts: ["reviews"],
      scope,
      message: "invalid regex",
    },
  ])("refuses a VirtualService with $case, saying why", ({ http, hosts, scope: routing, message }) => {
    expect(() => parseRoutingTable(spec(http, hosts), routing, "shop/reviews")).toThrow(MeshConfigError);
    expect(() => parseRoutingTable(spec(http, hosts), routing, "shop/reviews")).toThrow(message);
  });
});

describe("the mesh simulator's telemetry", () => {
  it("carries every label the built-in analysis queries select on, and Istio's duration buckets", () => {
    expect(ISTIO_LABELS).toEqual(expect.arrayContaining([...ANALYSIS_LABELS]));
    expect(DURATION_BUCKETS).toEqual([...ISTIO_DURATION_BUCKETS_MS]);
  });
});

describe("the mesh simulator against the live VirtualService", () => {
  let simulator: MeshSimulator | undefined;
  afterEach(async () => {
    await simulator?.stop();
    simulator = undefined;
  });

  async function createNamespace(prefix: string) {
    const kc = kubeConfig();
    const namespace = uniqueName(prefix);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    return { kc, namespace, objects: kc.makeApiClient(CustomObjectsApi) };
  }

  it("splits traffic by the header route and weights, fails v2 at its error rate, follows a weight change and reaches Prometheus", async () => {
    const { kc, namespace, objects } = await createNamespace("mesh");
    await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2"], http: [headerRoute, primary(80, 20)] });
    await waitForReadyEndpoints(kc, namespace, "reviews", "v2");
    const { prometheusUrl, prometheusTargetsDir } = services();
    simulator = await startMeshSimulator({
      kubeConfig: kc,
      namespace,
      service: "reviews",
      virtualService: "reviews",
      rate: 200,
      headerTraffic: { headers: { "x-canary": "true" }, fraction: 0.1 },
      behaviour: { v1: { errorRate: 0, latencyMs: 20, latencyJitterMs: 10 }, v2: { errorRate: 0.5, latencyMs: 300, latencyJitterMs: 40 } },
      prometheus: { url: prometheusUrl, targetsDir: prometheusTargetsDir },
    });
    const sim = simulator;
    expect(sim.lastError).toBeUndefined();
    expect(sim.currentWeights()).toMatchObject({ weights: { v1: 80, v2: 20 }, routes: { primary: { v1: 80, v2: 20 } }, headerRoute: true, headerRouteVersions: ["v2"] });

    const start = sim.snapshot();
    await sleep(2_000);
    const first = trafficBetween(start, sim.snapshot());
    expect(first.routed).toBeGreaterThan(250);
    expect(first.share("v2")).toBeGreaterThan(0.28 - 0.08);
    expect(first.share("v2")).toBeLessThan(0.28 + 0.08);
    expect(first.versions.v1?.withHeaders).toBe(0); // every request with x-canary went to v2
    expect(first.versions.v1?.errors).toBe(0);
    const v2 = first.versions.v2 ?? { requests: 0, errors: 0 };
    expect(v2.errors / v2.requests).toBeGreaterThan(0.5 - 0.17);
    expect(v2.errors / v2.requests).toBeLessThan(0.5 + 0.17);
    expect(sim.snapshot().unrouted).toEqual({});
    expect(sim.snapshot().sourceFailures).toEqual({}); // both versions have ready endpoints

    await objects.patchNamespacedCustomObject({
      ...VS,
      namespace,
      name: "reviews",
      body: [
        { op: "test", path: "/spec/http/1/name", value: "primary" },
        { op: "replace", path: "/spec/http/1/route/0/weight", value: 50 },
        { op: "replace", path: "/spec/http/1/route/1/weight", value: 50 },
      ],
    });
    await waitUntil("the simulator to read the new weights", async () => sim.currentWeights()?.weights.v2 === 50, { timeoutMs: 5_000, intervalMs: 50 });
    const afterPatch = sim.snapshot();
    await sleep(2_000);
    const second = trafficBetween(afterPatch, sim.snapshot());
    expect(second.share("v2")).toBeGreaterThan(0.55 - 0.08); // 0.1 + 0.9 * 0.5
    expect(second.share("v2")).toBeLessThan(0.55 + 0.08);

    const prometheus = new PrometheusDriver({ endpoint: prometheusUrl });
    const selector = `destination_service_name="reviews", destination_service_namespace="${namespace}"`;
    let series: { version: string; code: string; value: number }[] = [];
    await waitUntil(
      "istio_requests_total in Prometheus",
      async () => {
        const result = await prometheus.instantQuery(`sum by (destination_version, response_code) (istio_requests_total{${selector}})`);
        series = result.result.map((s) => {
          const labels = s.metric.labels as Record<string, string>;
          return { version: labels.destination_version ?? "", code: labels.response_code ?? "", value: Number(s.value.value) };
        });
        return series.length === 3;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect(series.map((s) => `${s.version}/${s.code}`).sort()).toEqual(["v1/200", "v2/200", "v2/503"]);
    const exported = sim.snapshot().versions;
    for (const s of series) expect(s.value).toBeLessThanOrEqual(exported[s.version]?.responseCodes[s.code] ?? 0);

    const labelled = await prometheus.instantQuery(
      [
        `istio_requests_total{reporter="destination", ${selector}, destination_workload="reviews-v2",`,
        `destination_version="v2", response_code="503", source_workload="mesh-simulator", request_protocol="http"}`,
      ].join(" "),
    );
    expect(labelled.result).toHaveLength(1);

    // v1 answers within 30 ms, v2 never within 250 ms: Istio's buckets show it.
    const bucket = async (query: string) => Number((await prometheus.instantQuery(query)).result[0]?.value.value ?? Number.NaN);
    // One query, so no scrape can land between the two sums.
    const v1All = await bucket(`sum(istio_request_duration_milliseconds_count{${selector}, destination_version="v1"})`);
    expect(v1All).toBeGreaterThan(0);
    const v1Slow = await bucket(
      `sum(istio_request_duration_milliseconds_count{${selector}, destination_version="v1"}) - sum(istio_request_duration_milliseconds_bucket{${selector}, destination_version="v1", le="50"})`,
    );
    expect(v1Slow).toBe(0);
    expect(await bucket(`sum(istio_request_duration_milliseconds_bucket{${selector}, destination_version="v2", le="250"})`)).toBe(0);

    const metricsUrl = sim.metricsUrl;
    await sim.stop();
    await sim.stop();
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });

  it("counts nothing while the VirtualService is missing or malformed, says why, and resumes when it is fixed", async () => {
    const { kc, namespace, objects } = await createNamespace("mesh-bad");
    simulator = await startMeshSimulator({ kubeConfig: kc, namespace, service: "reviews", rate: 200 });
    const sim = simulator;
    expect(sim.lastError).toBe(`VirtualService ${namespace}/reviews not found`);
    expect(sim.currentWeights()).toBeUndefined();

    await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2"], http: [primary(50, 40)] });
    await sim.refresh();
    expect(sim.lastError).toBe(`VirtualService ${namespace}/reviews http route "primary": weights sum to 90, expected 100`);
    await sleep(300);
    expect(sim.snapshot().requests).toBe(0);

    await objects.patchNamespacedCustomObject({ ...VS, namespace, name: "reviews", body: { spec: { http: [primary(100, 0)] } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await sim.refresh();
    expect(sim.lastError).toBeUndefined();
    await waitUntil("traffic to v1", async () => (sim.snapshot().versions.v1?.requests ?? 0) > 20, { timeoutMs: 5_000, intervalMs: 50 });
    expect(Object.keys(sim.snapshot().versions)).toEqual(["v1"]);
    expect(sim.currentWeights()).toMatchObject({ weights: { v1: 100, v2: 0 }, headerRoute: false });
  });
});
