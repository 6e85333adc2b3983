/**
 * A small mesh simulator for tests and the demo. It reads the live VirtualService (or a Gateway
 * API HTTPRoute, mesh-httproute.ts), copies mirrored requests to their version (reported under
 * "<host>-shadow", as Istio does), sends
 * simulated requests to the service's versions the way Istio would route them (header routes,
 * then weights), and exports what a destination sidecar would report: `istio_requests_total`
 * and `istio_request_duration_milliseconds`, with Istio's standard labels, on `/metrics`.
 * Like Envoy, it reaches only versions with ready endpoints (mesh-endpoints.ts); a request for
 * any other fails at the caller: 503 with flag UH or NC, reported by the source only.
 * No real requests reach any backend; each version's error rate and latency are configured.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { ALL_HEALTHY, upstreamReader, type UpstreamHealth } from "./mesh-endpoints.js";
import { startMeshTelemetry } from "./mesh-metrics.js";
import { driftingErrorFactor, seededRandom, STEADY, type ErrorDrift } from "./mesh-noise.js";
import { MeshConfigError, observeRouting, parseRoutingTable, routeRequest, type ObservedRouting, type RoutingTable, type SimulatedRequest, type VersionFrom } from "./mesh-routing.js";
import { parseHttpRouteTable } from "./mesh-httproute.js";
import { registerTarget } from "./prometheus.js";

export { DURATION_BUCKETS, ISTIO_LABELS, SOURCE_WORKLOAD } from "./mesh-metrics.js";
export { MeshConfigError, type ObservedRouting, type VersionFrom } from "./mesh-routing.js";
export type { ErrorDrift } from "./mesh-noise.js";

/** How one version of the service answers. */
export interface VersionBehaviour {
  /** Share of requests answered with 503, 0..1. */
  errorRate: number;
  /** Mean latency in milliseconds. */
  latencyMs: number;
  /** Latency is uniform in latencyMs +/- latencyJitterMs (never below 0). Default 0. */
  latencyJitterMs?: number;
}

export interface MeshSimulatorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The mesh service (destination_service_name), e.g. "reviews". */
  service: string;
  /** Default: the service name. */
  virtualService?: string;
  /** Route by this Gateway API HTTPRoute (in `namespace`) instead of the VirtualService; versions are then Services ("host"). */
  httpRoute?: string;
  /** http routes whose weights currentWeights() reports; default: the first route without `match`. */
  routes?: readonly string[];
  /** How a destination names a version. Default "subset"; "host" reads "reviews-v2" as v2. */
  versionFrom?: VersionFrom;
  /** Requests per second. Default 50. */
  rate?: number;
  /** A share of requests that carry extra headers, e.g. { headers: { "x-canary": "true" }, fraction: 0.1 }. */
  headerTraffic?: { headers: Record<string, string>; fraction: number };
  /** Per version; versions not listed answer as `defaultBehaviour`. */
  behaviour?: Record<string, VersionBehaviour>;
  /** Default: healthy, { errorRate: 0, latencyMs: 20, latencyJitterMs: 10 }. */
  defaultBehaviour?: VersionBehaviour;
  /**
   * Every version's errorRate drifts over time by one shared, seeded factor (mean 1), as a real
   * service's baseline does; versions keep their ratio to each other (mesh-noise.ts). Default: none.
   */
  errorDrift?: ErrorDrift;
  /** Register with this Prometheus (file_sd) while running; `labels` are added as target labels. */
  prometheus?: { url: string; targetsDir: string; labels?: Record<string, string> };
  /** PRNG seed, so runs are repeatable. Default 1. */
  seed?: number;
  /** Default 100. */
  tickMs?: number;
  /** How often the VirtualService and the versions' endpoints are read. Default 250. */
  pollMs?: number;
  /** Port for /metrics on 127.0.0.1. Default: a free one. */
  port?: number;
  /** Told when reading the VirtualService starts or stops failing. */
  log?: (line: string) => void;
}

export interface VersionTraffic {
  requests: number;
  /** Of those, requests that carried the `headerTraffic` headers. */
  withHeaders: number;
  /** Requests per response code, e.g. { "200": 180, "503": 20 }. */
  responseCodes: Record<string, number>;
}

/** What the simulator sent since it started. */
export interface TrafficSnapshot {
  /** Every simulated request, routed or not. */
  requests: number;
  versions: Record<string, VersionTraffic>;
  /** Requests that reached no version of the service, by reason. */
  unrouted: Record<string, number>;
  /**
   * Requests routed to a version with no ready endpoint, which the caller's sidecar answered with
   * 503 itself: per version, per response flag, e.g. { v2: { UH: 40 } }. Not in `versions`.
   */
  sourceFailures: Record<string, Record<string, number>>;
  /** Mirrored copies each version served (not in `versions`: no user saw their answers). */
  mirrored: Record<string, number>;
}

export interface MeshSimulator {
  /** host:port of the /metrics endpoint. */
  readonly target: string;
  readonly metricsUrl: string;
  /** Why the last read of the VirtualService could not be used; undefined when it could. */
  readonly lastError: string | undefined;
  setBehaviour(version: string, behaviour: VersionBehaviour): void;
  setRate(requestsPerSecond: number): void;
  snapshot(): TrafficSnapshot;
  /** What it last read from the VirtualService; undefined while it has nothing usable. */
  currentWeights(): ObservedRouting | undefined;
  /** Reads the VirtualService and the endpoints now instead of waiting for the next poll. */
  refresh(): Promise<void>;
  /** Stops sending, unregisters from Prometheus and closes /metrics. Safe to call twice. */
  stop(): Promise<void>;
}

const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;
const HTTP_ROUTE = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" } as const;

function checkBehaviour(version: string, behaviour: VersionBehaviour): VersionBehaviour {
  const { errorRate, latencyMs, latencyJitterMs = 0 } = behaviour;
  if (!(errorRate >= 0 && errorRate <= 1)) throw new RangeError(`behaviour of ${version}: errorRate must be within 0..1, got ${errorRate}`);
  if (!(latencyMs >= 0) || !(latencyJitterMs >= 0)) throw new RangeError(`behaviour of ${version}: latencyMs and latencyJitterMs must be >= 0`);
  return { errorRate, latencyMs, latencyJitterMs };
}

function checkRate(rate: number): number {
  if (!(rate >= 0 && Number.isFinite(rate))) throw new RangeError(`rate must be a finite number of requests per second >= 0, got ${rate}`);
  return rate;
}

/** The API server's own message for a failed read, without the raw response. */
function readError(error: unknown, vsName: string, kind = "VirtualService"): string {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "number") {
    if (error.code === 404) return `${kind} ${vsName} not found`;
    const body = "body" in error && typeof error.body === "string" ? error.body : "";
    const message = /"message":\s*"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    return `reading ${kind} ${vsName}: HTTP ${error.code}${message ? `: ${message}` : ""}`;
  }
  return `reading ${kind} ${vsName}: ${error instanceof Error ? error.message : String(error)}`;
}

export async function startMeshSimulator(options: MeshSimulatorOptions): Promise<MeshSimulator> {
  const { namespace, service } = options;
  const httpRoute = options.httpRoute;
  const vsName = httpRoute ?? options.virtualService ?? service;
  const vsLabel = `${namespace}/${vsName}`;
  const kind = httpRoute !== undefined ? "HTTPRoute" : "VirtualService";
  const versionFrom = options.versionFrom ?? (httpRoute !== undefined ? "host" : "subset");
  const scope = { namespace, service, routes: options.routes, versionFrom };
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const random = seededRandom(options.seed ?? 1);
  // Its own stream, so turning drift on does not change which requests go where.
  const errorFactor = options.errorDrift ? driftingErrorFactor(options.errorDrift, seededRandom((options.seed ?? 1) ^ 0x5bd1e995)) : STEADY;
  const tickMs = options.tickMs ?? 100;
  const pollMs = options.pollMs ?? 250;
  const log = options.log ?? (() => undefined);
  let rate = checkRate(options.rate ?? 50);
  const defaultBehaviour = checkBehaviour("unknown versions", options.defaultBehaviour ?? { errorRate: 0, latencyMs: 20, latencyJitterMs: 10 });
  const behaviours = new Map<string, VersionBehaviour>();
  for (const [version, behaviour] of Object.entries(options.behaviour ?? {})) behaviours.set(version, checkBehaviour(version, behaviour));
  const headerTraffic = options.headerTraffic;
  if (headerTraffic && !(headerTraffic.fraction >= 0 && headerTraffic.fraction <= 1)) throw new RangeError(`headerTraffic.fraction must be within 0..1, got ${headerTraffic.fraction}`);
  const canaryRequest: SimulatedRequest = {
    headers: Object.fromEntries(Object.entries(headerTraffic?.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
  };
  const plainRequest: SimulatedRequest = { headers: {} };
  const telemetry = await startMeshTelemetry({
    namespace,
    service,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(versionFrom === "host" ? { serviceFor: (version: string) => `${service}-${version}` } : {}),
  });
  const target = telemetry.target;

  const counts: TrafficSnapshot = { requests: 0, versions: {}, unrouted: {}, sourceFailures: {}, mirrored: {} };
  let table: RoutingTable | undefined;
  const readUpstreams = upstreamReader(options.kubeConfig, scope);
  let upstreams: UpstreamHealth = ALL_HEALTHY;
  let upstreamError: string | undefined;
  let lastError: string | undefined;
  let stopped = false;
  let owed = 0; // fractional requests carried from tick to tick, so low rates stay exact
  let lastTick = performance.now();

  // A mirrored copy: served by the canary's pods when they are reachable, reported under "<host>-shadow", its answer dropped.
  const mirrorOne = (version: string) => {
    if (upstreams(version) !== undefined) return;
    const behaviour = behaviours.get(version) ?? defaultBehaviour;
    const responseCode = random() < behaviour.errorRate * errorFactor.value ? "503" : "200";
    telemetry.record(version, responseCode, behaviour.latencyMs, true);
    counts.mirrored[version] = (counts.mirrored[version] ?? 0) + 1;
  };

  const sendOne = () => {
    if (!table) return;
    const withHeaders = headerTraffic !== undefined && random() < headerTraffic.fraction;
    counts.requests += 1;
    const routed = routeRequest(table, withHeaders ? canaryRequest : plainRequest, random);
    if ("unrouted" in routed) {
      counts.unrouted[routed.unrouted] = (counts.unrouted[routed.unrouted] ?? 0) + 1;
      return;
    }
    const { version } = routed;
    if (routed.mirror !== undefined) mirrorOne(routed.mirror);
    const failure = upstreams(version);
    if (failure !== undefined) {
      telemetry.recordUpstreamFailure(version, failure);
      const flags = (counts.sourceFailures[version] ??= {});
      flags[failure] = (flags[failure] ?? 0) + 1;
      return;
    }
    const behaviour = behaviours.get(version) ?? defaultBehaviour;
    const responseCode = random() < behaviour.errorRate * errorFactor.value ? "503" : "200";
    const jitter = behaviour.latencyJitterMs ?? 0;
    const latencyMs = Math.max(0, behaviour.latencyMs + (2 * random() - 1) * jitter);
    telemetry.record(version, responseCode, latencyMs);
    const traffic = (counts.versions[version] ??= { requests: 0, withHeaders: 0, responseCodes: {} });
    traffic.requests += 1;
    if (withHeaders) traffic.withHeaders += 1;
    traffic.responseCodes[responseCode] = (traffic.responseCodes[responseCode] ?? 0) + 1;
  };

  const tick = () => {
    const now = performance.now();
    const elapsedSeconds = Math.min(now - lastTick, 1_000) / 1_000; // a stalled event loop must not cause a burst
    lastTick = now;
    errorFactor.advance(elapsedSeconds);
    if (!table) {
      owed = 0; // nothing is routable: count nothing, and start afresh when it is again
      return;
    }
    owed += rate * elapsedSeconds;
    const due = Math.floor(owed);
    owed -= due;
    for (let i = 0; i < due; i++) sendOne();
  };

  // Reads may overlap (poll and refresh()); only a newer read may replace what an older one set.
  let readsStarted = 0;
  let newestApplied = 0;
  const readTable = async (): Promise<{ next?: RoutingTable; error?: string }> => {
    try {
      const object: unknown = await api.getNamespacedCustomObject({ ...(httpRoute !== undefined ? HTTP_ROUTE : VS), namespace, name: vsName });
      return { next: httpRoute !== undefined ? parseHttpRouteTable(object, scope, vsLabel) : parseRoutingTable(object, scope, vsLabel) };
    } catch (caught) {
      return { error: caught instanceof MeshConfigError ? caught.message : readError(caught, vsLabel, kind) };
    }
  };
  // A failed read of the endpoints keeps what the last one saw, as Envoy keeps its last config.
  const readHealth = async (): Promise<{ health?: UpstreamHealth; error?: string }> => {
    try {
      return { health: await readUpstreams() };
    } catch (caught) {
      return { error: `reading the endpoints of ${namespace}/${service}: ${caught instanceof Error ? caught.message : String(caught)}` };
    }
  };
  const refresh = async () => {
    const read = ++readsStarted;
    const [{ next, error }, health] = await Promise.all([readTable(), readHealth()]);
    if (stopped || read < newestApplied) return;
    newestApplied = read;
    if (error !== lastError) log(error === undefined ? `mesh simulator: routing by ${kind} ${vsLabel} again` : `mesh simulator: ${error}`);
    table = next;
    lastError = error;
    if (health.error !== upstreamError) log(health.error === undefined ? `mesh simulator: reading endpoints of ${namespace}/${service} again` : `mesh simulator: ${health.error}`);
    upstreamError = health.error;
    if (health.health) upstreams = health.health;
  };

  let unregister: (() => void) | undefined;
  try {
    await refresh();
    if (options.prometheus) {
      const { url, targetsDir, labels } = options.prometheus;
      unregister = await registerTarget(url, targetsDir, target, labels);
    }
  } catch (error) {
    await telemetry.close();
    throw error;
  }

  let pollTimer: NodeJS.Timeout | undefined;
  const poll = () => {
    pollTimer = setTimeout(() => {
      void refresh().finally(() => {
        if (!stopped) poll();
      });
    }, pollMs);
  };
  poll();
  lastTick = performance.now();
  const tickTimer = setInterval(tick, tickMs);

  let stopping: Promise<void> | undefined;
  return {
    target,
    metricsUrl: `http://${target}/metrics`,
    get lastError() {
      return lastError;
    },
    setBehaviour(version, behaviour) {
      behaviours.set(version, checkBehaviour(version, behaviour));
    },
    setRate(requestsPerSecond) {
      rate = checkRate(requestsPerSecond);
    },
    snapshot() {
      return structuredClone(counts);
    },
    currentWeights() {
      return table ? observeRouting(table) : undefined;
    },
    refresh,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(tickTimer);
        clearTimeout(pollTimer);
        unregister?.();
        await telemetry.close();
      })();
      return stopping;
    },
  };
}
