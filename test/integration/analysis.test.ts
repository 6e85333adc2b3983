import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { CoreV1Api } from "@kubernetes/client-node";
import { Counter, Histogram, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeResults, REQUEST_COUNT_METRIC, runAnalysis } from "../../src/analysis/analyze.js";
import { readGuard, type GuardReading } from "../../src/analysis/guard.js";
import { PrometheusClient, type MetricsQuerier } from "../../src/analysis/prometheus.js";
import { ISTIO_DURATION_BUCKETS_MS, ISTIO_LABELS, ISTIO_METRICS } from "../../src/analysis/templates.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../src/rollout/schema.js";
import { parseDuration } from "../../src/rollout/duration.js";
import { BAD_POD_LABELS, createMesh, freePort, registerTarget, SCRAPE_INTERVAL, waitUntil } from "../env/index.js";
import { startMeshSimulator } from "../env/mesh-simulator.js";
import { kubeConfig, services, uniqueName } from "./services.js";

type AnalysisInput = NonNullable<RolloutSpecInput["analysis"]>;

const namespace = uniqueName("analysis");
const CONTEXT = { canaryVersion: "v2", stableVersion: "v1" };
/** The test Prometheus' scrape interval, as the controller is told it. */
const SCRAPE = { scrapeIntervalMs: parseDuration(SCRAPE_INTERVAL) ?? 1_000 };

/** What each simulated service answers per 200 ms tick, by version. */
interface Traffic {
  requests: number;
  errors: number;
  latencyMs: number;
  everyNthTick?: number;
}
const MESH: Record<string, Record<string, Traffic>> = {
  healthy: { v2: { requests: 10, errors: 0, latencyMs: 50 }, v1: { requests: 10, errors: 5, latencyMs: 50 } },
  failing: { v2: { requests: 10, errors: 3, latencyMs: 50 } },
  broken: { v2: { requests: 10, errors: 10, latencyMs: 50 } },
  slow: { v2: { requests: 10, errors: 0, latencyMs: 800 } },
  quiet: { v2: { requests: 1, errors: 0, latencyMs: 50, everyNthTick: 5 } },
};

function rollout(service: string, analysis: Partial<AnalysisInput>): Rollout {
  const spec = RolloutSpecSchema.parse({
    service,
    version: CONTEXT.canaryVersion,
    trafficRouting: { istio: { virtualService: { name: service } } },
    steps: [{ setWeight: 10 }, { pause: "1m" }],
    analysis: { interval: "5s", metrics: [{ name: "success-rate" }, { name: "latency-p99" }], ...analysis },
  });
  return { name: service, namespace, spec };
}

let prometheus: PrometheusClient;
let exporter: Server | undefined;
let ticker: NodeJS.Timeout | undefined;
let unregister: (() => void) | undefined;

beforeAll(async () => {
  const registry = new Registry();
  const labelNames = [...ISTIO_LABELS];
  const requests = new Counter({ name: ISTIO_METRICS.requests, help: "requests", labelNames, registers: [registry] });
  const durations = new Histogram({
    name: ISTIO_METRICS.duration,
    help: "durations",
    labelNames,
    buckets: [...ISTIO_DURATION_BUCKETS_MS],
    registers: [registry],
  });
  let tick = 0;
  const sendTraffic = () => {
    for (const [service, versions] of Object.entries(MESH)) {
      for (const [version, traffic] of Object.entries(versions)) {
        if (tick % (traffic.everyNthTick ?? 1) !== 0) continue;
        for (const [code, count] of [
          ["200", traffic.requests - traffic.errors],
          ["503", traffic.errors],
        ] as const) {
          if (count === 0) continue;
          const labels = {
            reporter: "destination",
            destination_service_name: service,
            destination_service_namespace: namespace,
            destination_version: version,
            response_code: code,
          };
          requests.inc(labels, count);
          for (let i = 0; i < count; i++) durations.observe(labels, traffic.latencyMs);
        }
      }
    }
    tick++;
  };
  sendTraffic();
  ticker = setInterval(sendTraffic, 200);
  exporter = createHttpServer(async (_request, response) => {
    response.setHeader("content-type", registry.contentType);
    response.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => exporter?.listen(0, "127.0.0.1", resolve));
  const { prometheusUrl, prometheusTargetsDir } = services();
  unregister = await registerTarget(prometheusUrl, prometheusTargetsDir, `127.0.0.1:${(exporter.address() as AddressInfo).port}`);
  prometheus = new PrometheusClient({ url: prometheusUrl, headers: { Authorization: "Bearer test-token-4711" } });
  // The 5s rate windows hold enough scrapes once every series has been scraped five times.
  await waitUntil(
    "five scrapes of the simulated mesh",
    async () => {
      const scrapes = await prometheus.query(`min(count_over_time(${ISTIO_METRICS.requests}{destination_service_namespace="${namespace}"}[6s]))`);
      return scrapes.kind === "value" && scrapes.value >= 5;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
});

afterAll(async () => {
  clearInterval(ticker);
  unregister?.();
  await new Promise((resolve) => exporter?.close(resolve) ?? resolve(undefined));
});

describe("analysis against the real Prometheus", () => {
  it("passes success-rate and latency-p99 for a healthy canary, whatever the stable version does", async () => {
    const results = await runAnalysis(prometheus, rollout("healthy", {}), CONTEXT, SCRAPE);
    expect(results).toEqual([
      { name: "success-rate", outcome: "pass", value: 1, message: "1 >= 0.99" },
      { name: "latency-p99", outcome: "pass", value: expect.closeTo(49.75, 1), message: expect.stringMatching(/^\d+(\.\d+)? <= 500$/) },
    ]);
  });

  it("fails success-rate near 0.7 for a canary answering 30% 5xx", async () => {
    const [successRate] = await runAnalysis(prometheus, rollout("failing", { metrics: [{ name: "success-rate", min: 0.99 }] }), CONTEXT, SCRAPE);
    expect(successRate).toMatchObject({ name: "success-rate", outcome: "fail", message: expect.stringMatching(/^0\.\d+ < 0\.99$/) });
    expect(successRate?.value).toBeCloseTo(0.7, 1);
  });

  it("fails success-rate at 0 for a canary answering only 5xx", async () => {
    const [successRate] = await runAnalysis(prometheus, rollout("broken", { metrics: [{ name: "success-rate" }] }), CONTEXT, SCRAPE);
    expect(successRate).toEqual({ name: "success-rate", outcome: "fail", value: 0, message: "0 < 0.99" });
  });

  it("fails latency-p99 above its max for a canary answering in 800 ms, and passes it under a higher max", async () => {
    const [strict] = await runAnalysis(prometheus, rollout("slow", { metrics: [{ name: "latency-p99", max: 500 }] }), CONTEXT, SCRAPE);
    expect(strict).toMatchObject({ outcome: "fail", value: expect.closeTo(995, 0), message: expect.stringMatching(/^99\d(\.\d+)? > 500$/) });
    const [lenient] = await runAnalysis(prometheus, rollout("slow", { metrics: [{ name: "latency-p99", max: 1000 }] }), CONTEXT, SCRAPE);
    expect(lenient?.outcome).toBe("pass");
  });

  it("is inconclusive when the canary had too little traffic, naming the count", async () => {
    const results = await runAnalysis(prometheus, rollout("quiet", { minRequests: 20 }), CONTEXT, SCRAPE);
    expect(results.map((r) => r.outcome)).toEqual(["inconclusive", "inconclusive"]);
    for (const result of results) expect(result.message).toMatch(/^\d+(\.\d+)? requests < 20 \(minRequests\)$/);
  });

  it("is inconclusive for a service with no series at all", async () => {
    const counted = await runAnalysis(prometheus, rollout("unseen", {}), CONTEXT, SCRAPE);
    expect(counted.map((r) => [r.outcome, r.message])).toEqual([
      ["inconclusive", "0 requests < 20 (minRequests)"],
      ["inconclusive", "0 requests < 20 (minRequests)"],
    ]);
    const uncounted = await runAnalysis(prometheus, rollout("unseen", { minRequests: 0 }), CONTEXT, SCRAPE);
    expect(uncounted.map((r) => [r.outcome, r.value, r.message])).toEqual([
      ["inconclusive", null, "no data"],
      ["inconclusive", null, "no data"],
    ]);
  });

  it("judges a custom query against its threshold, with the stable and canary versions as variables", async () => {
    const errors = (version: string) =>
      `sum(rate(istio_requests_total{destination_service_name="{{ service }}", destination_service_namespace="{{ namespace }}", destination_version="{{ ${version} }}", response_code=~"5.."}[{{ interval }}])) or vector(0)`;
    const results = await runAnalysis(
      prometheus,
      rollout("healthy", {
        metrics: [
          { name: "canary-errors", query: errors("canaryVersion"), max: 0.5 },
          { name: "stable-errors", query: errors("stableVersion"), max: 0.5 },
        ],
      }),
      CONTEXT,
      SCRAPE,
    );
    expect(results[0]).toEqual({ name: "canary-errors", outcome: "pass", value: 0, message: "0 <= 0.5" });
    expect(results[1]).toMatchObject({ name: "stable-errors", outcome: "fail" });
    // 25 errors/s when the test's 200 ms ticker keeps time; a starved one only runs late, so less.
    expect(results[1]?.value).toBeGreaterThan(10);
    expect(results[1]?.value).toBeLessThan(30);
  });

  it.each([
    ["a scalar", "scalar(vector(0.5))", "pass", 0.5, "0.5 <= 1"],
    ["0/0 as NaN", "vector(0) / vector(0)", "inconclusive", null, "NaN"],
    ["1/0 as +Inf", "vector(1) / vector(0)", "inconclusive", null, "+Inf"],
    ["-1/0 as -Inf", "vector(-1) / vector(0)", "inconclusive", null, "-Inf"],
  ])("reads %s", async (_, query, outcome, value, message) => {
    const [result] = await runAnalysis(prometheus, rollout("healthy", { metrics: [{ name: "custom", query, max: 1 }] }), CONTEXT, SCRAPE);
    expect(result).toEqual({ name: "custom", outcome, value, message });
  });

  it("is an error when a query returns several series", async () => {
    const query = 'istio_requests_total{destination_service_name="{{ service }}", destination_service_namespace="{{ namespace }}"}';
    const [result] = await runAnalysis(prometheus, rollout("healthy", { metrics: [{ name: "custom", query, max: 1 }] }), CONTEXT, SCRAPE);
    expect(result).toEqual({
      name: "custom",
      outcome: "error",
      value: null,
      message: "prometheus: query returned 3 series; expected one (sum it in the template)",
    });
  });

  it("is an error carrying Prometheus' own message for bad PromQL", async () => {
    const [result] = await runAnalysis(prometheus, rollout("healthy", { metrics: [{ name: "custom", query: "sum(rate(x[{{ interval }}]", max: 1 }] }), CONTEXT, SCRAPE);
    expect(result).toMatchObject({ outcome: "error", value: null, message: expect.stringMatching(/^prometheus: HTTP 400: .*parse error/) });
  });

  it("gives the built-ins data with interval: 1s, looking over four 1 s scrapes instead of one", async () => {
    const sent: string[] = [];
    const recording: MetricsQuerier = { query: (promql) => (sent.push(promql), prometheus.query(promql)) };
    const results = await runAnalysis(recording, rollout("healthy", { interval: "1s" }), CONTEXT, SCRAPE);
    expect(results).toEqual([
      { name: "success-rate", outcome: "pass", value: 1, message: "1 >= 0.99" },
      { name: "latency-p99", outcome: "pass", value: expect.closeTo(49.75, 1), message: expect.stringMatching(/ <= 500$/) },
    ]);
    expect(sent).toHaveLength(3); // the request count too: enough requests in the window
    for (const query of sent) expect(query).toContain("[4s]");
  });

  it("accepts a compound interval such as 1m30s as the rate window", async () => {
    const results = await runAnalysis(prometheus, rollout("healthy", { interval: "1m30s" }), CONTEXT, SCRAPE);
    expect(results.map((r) => r.outcome)).toEqual(["pass", "pass"]);
  });

  it("keeps a hostile version inside its label value", async () => {
    const hostile = { canaryVersion: 'v2"} or vector(1) or x{a="\\', stableVersion: "v1" };
    const results = await runAnalysis(prometheus, rollout("healthy", { minRequests: 0 }), hostile, SCRAPE);
    expect(results.map((r) => [r.outcome, r.message])).toEqual([
      ["inconclusive", "no data"],
      ["inconclusive", "no data"],
    ]);
  });

  it("sends one query per metric and one shared request count per run, and reports each query's duration", async () => {
    const sent: string[] = [];
    const counting: MetricsQuerier = { query: (promql) => (sent.push(promql), prometheus.query(promql)) };
    const observed: [string, string, number][] = [];
    const custom = { name: "custom", query: "scalar(vector(0.5))", max: 1 };
    await runAnalysis(counting, rollout("healthy", { metrics: [{ name: "success-rate" }, { name: "latency-p99" }, custom] }), CONTEXT, {
      ...SCRAPE,
      observe: (metric, outcome, seconds) => observed.push([metric, outcome, seconds]),
    });
    expect(sent).toHaveLength(4);
    expect(sent.filter((q) => q.startsWith("sum(increase("))).toHaveLength(1);
    expect(observed.map(([metric, outcome]) => [metric, outcome]).sort()).toEqual(
      [
        [REQUEST_COUNT_METRIC, "pass"],
        ["custom", "pass"],
        ["latency-p99", "pass"],
        ["success-rate", "pass"],
      ].sort(),
    );
    for (const [, , seconds] of observed) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it("returns no results for a Rollout without analysis", async () => {
    const plain = rollout("healthy", {});
    delete plain.spec.analysis;
    expect(await runAnalysis(prometheus, plain, CONTEXT, SCRAPE)).toEqual([]);
  });
});

describe("the guard's reading against the real Prometheus", () => {
  // The mesh sends 50 requests/s per version; 2 s windows hold two or three 1 s scrapes.
  const read = (service: string, version = "v2") => readGuard(prometheus, rollout(service, {}), { canaryVersion: version, stableVersion: "v1", windowMs: 2_000 });

  it("counts a healthy canary's requests, with no errors, ignoring the stable version's errors", async () => {
    const reading = await read("healthy");
    expect(reading).toMatchObject({ errors: 0 });
    expect("requests" in reading && reading.requests).toBeGreaterThan(20);
  });

  it("counts a failing canary's 5xx answers: about 30% of its requests", async () => {
    const reading = await read("failing");
    if (!("requests" in reading)) throw new Error(`no reading: ${reading.error}`);
    expect(reading.errors / reading.requests).toBeCloseTo(0.3, 1);
  });

  it("reads zero requests for a version with no traffic at all", async () => {
    expect(await read("healthy", "v9")).toEqual({ requests: 0, errors: 0 });
  });

  it("keeps a hostile service name inside its label value", async () => {
    const hostile = rollout("healthy", {});
    hostile.spec = { ...hostile.spec, service: 'x"} or vector(1000) or {a="' };
    expect(await readGuard(prometheus, hostile, { canaryVersion: "v2", stableVersion: "v1", windowMs: 2_000 })).toEqual({ requests: 0, errors: 0 });
  });

  it("is an error, naming no header value, when Prometheus is unreachable", async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, headers: { Authorization: "Bearer guard-secret-1234" } });
    const outcomes: string[] = [];
    const reading = await readGuard(client, rollout("healthy", {}), { canaryVersion: "v2", stableVersion: "v1", windowMs: 2_000 }, (_metric, outcome) => outcomes.push(outcome));
    expect(reading).toEqual({ error: `prometheus: cannot connect to 127.0.0.1:${port}: connection refused` });
    expect(outcomes).toEqual(["error"]);
  });
});

describe("the guard and a canary with no ready pods", () => {
  for (const hostPerVersion of [false, true]) {
    it(`counts as failed the 503s its callers' sidecars answer for it, which built-in analysis never sees (${hostPerVersion ? "host" : "subset"} mode)`, async () => {
      const kc = kubeConfig();
      const ns = uniqueName("guard-unready");
      await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
      const destination = (v: string) => (hostPerVersion ? { host: `reviews-${v}` } : { host: "reviews", subset: v });
      const http = [
        {
          name: "primary",
          route: [
            { destination: destination("v1"), weight: 70 },
            { destination: destination("v2"), weight: 30 },
          ],
        },
      ];
      await createMesh(kc, ns, "reviews", { versions: ["v1", "v2"], http, hostPerVersion, podLabels: { v2: BAD_POD_LABELS.neverReady } });
      const { prometheusUrl, prometheusTargetsDir } = services();
      const mesh = await startMeshSimulator({
        kubeConfig: kc,
        namespace: ns,
        service: "reviews",
        rate: 100,
        routes: ["primary"],
        ...(hostPerVersion ? { versionFrom: "host" as const } : {}),
        prometheus: { url: prometheusUrl, targetsDir: prometheusTargetsDir },
      });
      try {
        const spec = RolloutSpecSchema.parse({
          service: "reviews",
          version: "v2",
          trafficRouting: { istio: { virtualService: { name: "reviews" }, ...(hostPerVersion ? { host: "reviews-{{ version }}" } : {}) } },
          steps: [{ setWeight: 30 }, { pause: "1m" }],
          analysis: { interval: "1s", metrics: [{ name: "success-rate" }] },
        });
        const canary: Rollout = { name: "reviews", namespace: ns, spec };
        let reading: GuardReading | undefined;
        await waitUntil(
          "the guard to see v2's failed requests",
          async () => {
            const read = await readGuard(prometheus, canary, { canaryVersion: "v2", stableVersion: "v1", windowMs: 2_000 });
            reading = read;
            return "requests" in read && read.requests >= 20;
          },
          { timeoutMs: 20_000, intervalMs: 250 },
        );
        const { requests, errors } = reading as unknown as { requests: number; errors: number };
        expect(errors).toBeCloseTo(requests, 6); // every one of them failed
        expect(mesh.snapshot().versions.v2).toBeUndefined();
        expect(mesh.snapshot().sourceFailures.v2?.UH).toBeGreaterThan(0);
        // Built-in analysis reads the canary's own sidecars only: they saw nothing.
        const [successRate] = await runAnalysis(prometheus, canary, CONTEXT, SCRAPE);
        expect(successRate).toMatchObject({ name: "success-rate", outcome: "inconclusive" });
      } finally {
        await mesh.stop();
      }
    });
  }
});

describe("analysis when Prometheus cannot answer", () => {
  const secret = "s3cret-token-never-shown";

  it("makes every metric an error with a clear message, and no header value, when Prometheus is unreachable", async () => {
    const port = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, headers: { Authorization: `Bearer ${secret}` } });
    const metrics = [{ name: "success-rate" }, { name: "latency-p99" }, { name: "custom", query: "vector(1)", max: 2 }];
    const results = await runAnalysis(client, rollout("healthy", { metrics }), CONTEXT, SCRAPE);
    expect(results).toEqual(
      metrics.map(({ name }) => ({
        name,
        outcome: "error",
        value: null,
        message: `prometheus: cannot connect to 127.0.0.1:${port}: connection refused`,
      })),
    );
    expect(describeResults(results)).not.toContain(secret);
  });

  it("gives up after the timeout when Prometheus accepts but never answers", async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const client = new PrometheusClient({ url: `http://127.0.0.1:${port}`, headers: { Authorization: `Bearer ${secret}` }, timeoutMs: 300 });
      expect(await client.query("vector(1)")).toEqual({ kind: "error", message: `no answer from 127.0.0.1:${port} within 300 ms` });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("keeps the HTTP status of a non-Prometheus answer, such as an auth proxy's 401", async () => {
    const proxy = createHttpServer((request, response) => {
      response.statusCode = 401;
      response.end(`bad credentials: ${request.headers.authorization ?? ""}\n`);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const client = new PrometheusClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, headers: { Authorization: `Bearer ${secret}` } });
      const result = await client.query("vector(1)");
      expect(result).toEqual({ kind: "error", message: "HTTP 401: Unauthorized" });
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
