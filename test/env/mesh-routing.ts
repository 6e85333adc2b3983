/**
 * The mesh simulator's picture of Istio routing: a live VirtualService parsed into a routing
 * table, and how one simulated request travels through it (first matching http route, then a
 * destination by weight). Pure: no I/O, randomness comes in as a function.
 */
import { z } from "zod";

/** How a route destination names a version of the service. */
export type VersionFrom =
  | "subset" // destination { host: <service>, subset: <version> }
  | "host" // destination { host: <service>-<version> }
  | ((destination: { host: string; subset?: string }) => string | undefined);

/** One simulated request as a sidecar sees it: always `GET /` over http to the service. */
export interface SimulatedRequest {
  /** Header names in lower case, as HTTP/2 and Istio have them. */
  headers: Readonly<Record<string, string>>;
}

/** `mirror`: the version a copy of the request also went to (its answer dropped). */
export type RoutingResult = { version: string; mirror?: string } | { unrouted: string };

export interface RouteDestination {
  host: string;
  version: string | undefined;
  weight: number;
}

export interface RoutingRoute {
  label: string;
  name: string | undefined;
  /** Undefined: matches every request. Otherwise any one condition matching is enough. */
  matches: ((request: SimulatedRequest) => boolean)[] | undefined;
  matchesHeaders: boolean;
  /** Undefined when the route answers without a destination (redirect, directResponse, delegate). */
  destinations: RouteDestination[] | undefined;
  /** A copy of `percentage`% of its requests goes to this version (Istio mirror, Gateway API RequestMirror). */
  mirror?: { version: string | undefined; percentage: number };
}

export interface RoutingTable {
  resourceVersion: string | undefined;
  routes: RoutingRoute[];
  /** Indexes into `routes` of the routes whose weights are reported. */
  followed: number[];
}

/** What the simulator last read from the VirtualService. */
export interface ObservedRouting {
  resourceVersion: string | undefined;
  /** Weight per version in the first followed route (weight-0 destinations included). */
  weights: Record<string, number>;
  /** Weight per version for each followed route, by route name (or `#<index>`). */
  routes: Record<string, Record<string, number>>;
  /** Whether some http route matches on request headers (an A/B header route). */
  headerRoute: boolean;
  /** The versions header-matching routes send traffic to. */
  headerRouteVersions: string[];
}

export interface RoutingScope {
  namespace: string;
  service: string;
  /** Names of the http routes to report weights for; default: the first route without `match`. */
  routes?: readonly string[];
  versionFrom: VersionFrom;
}

const StringMatch = z.object({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string().optional() });
type StringMatch = z.infer<typeof StringMatch>;

const HttpMatch = z.looseObject({
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(z.string(), StringMatch).optional(),
  withoutHeaders: z.record(z.string(), StringMatch).optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  gateways: z.array(z.string()).optional(),
  sourceNamespace: z.string().optional(),
});
type HttpMatch = z.infer<typeof HttpMatch>;

const HttpRoute = z.looseObject({
  name: z.string().optional(),
  mirror: z.looseObject({ host: z.string().min(1), subset: z.string().optional() }).optional(),
  mirrorPercentage: z.looseObject({ value: z.number().min(0).max(100) }).optional(),
  match: z.array(HttpMatch).optional(),
  route: z
    .array(
      z.looseObject({
        destination: z.looseObject({ host: z.string().min(1), subset: z.string().optional() }),
        weight: z.int().min(0).max(100).optional(),
      }),
    )
    .optional(),
});

const VirtualService = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional() }),
  spec: z.looseObject({ hosts: z.array(z.string()).optional(), http: z.array(HttpRoute).optional() }),
});

/** A VirtualService the simulator cannot route by; the message says what to fix. */
export class MeshConfigError extends Error {}

/** Match keys that are labels or options, not conditions. */
const NOT_CONDITIONS = new Set(["name", "ignoreUriCase", "statPrefix"]);
/** Conditions the simulator evaluates; any other (port, sourceLabels, ...) never matches its requests. */
const MODELLED = new Set(["uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams", "gateways", "sourceNamespace"]);

function stringMatcher(match: StringMatch, where: string, ignoreCase = false): (value: string | undefined) => boolean {
  const set = [match.exact, match.prefix, match.regex].filter((v) => v !== undefined).length;
  if (set > 1) throw new MeshConfigError(`${where}: set only one of exact, prefix, regex`);
  const fold = (text: string) => (ignoreCase ? text.toLowerCase() : text);
  if (match.exact !== undefined) {
    const exact = fold(match.exact);
    return (value) => value !== undefined && fold(value) === exact;
  }
  if (match.prefix !== undefined) {
    const prefix = fold(match.prefix);
    return (value) => value !== undefined && fold(value).startsWith(prefix);
  }
  if (match.regex !== undefined) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${match.regex})$`, ignoreCase ? "i" : ""); // Istio regexes are RE2, matched in full
    } catch (error) {
      throw new MeshConfigError(`${where}: invalid regex ${JSON.stringify(match.regex)} (${(error as Error).message})`);
    }
    return (value) => value !== undefined && pattern.test(value);
  }
  return (value) => value !== undefined; // an empty match asks only that the header is present
}

function matchCondition(match: HttpMatch, where: string, scope: RoutingScope): (request: SimulatedRequest) => boolean {
  const keys = Object.keys(match).filter((key) => !NOT_CONDITIONS.has(key));
  if (keys.some((key) => !MODELLED.has(key))) return () => false;
  if (match.queryParams && Object.keys(match.queryParams).length > 0) return () => false; // simulated requests carry no query
  if (match.gateways && !match.gateways.includes("mesh")) return () => false; // simulated requests are mesh traffic
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== scope.namespace) return () => false;
  const fixed: [StringMatch | undefined, string, string, boolean][] = [
    [match.uri, "/", "uri", match.ignoreUriCase === true],
    [match.scheme, "http", "scheme", false],
    [match.method, "GET", "method", false],
    [match.authority, scope.service, "authority", false],
  ];
  for (const [rule, value, key, ignoreCase] of fixed) {
    if (rule && !stringMatcher(rule, `${where}.${key}`, ignoreCase)(value)) return () => false;
  }
  const headerChecks = Object.entries(match.headers ?? {}).map(([name, rule]) => {
    const test = stringMatcher(rule, `${where}.headers.${name}`);
    return (request: SimulatedRequest) => test(request.headers[name.toLowerCase()]);
  });
  const withoutChecks = Object.entries(match.withoutHeaders ?? {}).map(([name, rule]) => {
    const test = stringMatcher(rule, `${where}.withoutHeaders.${name}`);
    return (request: SimulatedRequest) => !test(request.headers[name.toLowerCase()]);
  });
  const checks = [...headerChecks, ...withoutChecks];
  return (request) => checks.every((check) => check(request));
}

/** Whether `host`, as written in the VirtualService's namespace, names the service. */
function isServiceHost(host: string, scope: RoutingScope): boolean {
  const { service, namespace } = scope;
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`].includes(host);
}

function hostCovers(host: string, scope: RoutingScope): boolean {
  if (host === "*" || isServiceHost(host, scope)) return true;
  return host.startsWith("*.") && `${scope.service}.${scope.namespace}.svc.cluster.local`.endsWith(host.slice(1));
}

export function versionOf(destination: { host: string; subset?: string | undefined }, scope: RoutingScope): string | undefined {
  const { versionFrom, service } = scope;
  if (typeof versionFrom === "function") {
    return versionFrom(destination.subset === undefined ? { host: destination.host } : { host: destination.host, subset: destination.subset });
  }
  if (versionFrom === "subset") return isServiceHost(destination.host, scope) && destination.subset ? destination.subset : undefined;
  const short = destination.host.split(".")[0] ?? destination.host;
  return short.startsWith(`${service}-`) && short.length > service.length + 1 ? short.slice(service.length + 1) : undefined;
}

/** Parses a VirtualService object as the API server returns it; throws MeshConfigError. */
export function parseRoutingTable(object: unknown, scope: RoutingScope, vsName: string): RoutingTable {
  const parsed = VirtualService.safeParse(object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MeshConfigError(`VirtualService ${vsName} is malformed at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "unknown"}`);
  }
  const { spec, metadata } = parsed.data;
  if (spec.hosts && !spec.hosts.some((host) => hostCovers(host, scope))) {
    throw new MeshConfigError(`VirtualService ${vsName} hosts [${spec.hosts.join(", ")}] do not include service ${scope.service}`);
  }
  const http = spec.http ?? [];
  if (http.length === 0) throw new MeshConfigError(`VirtualService ${vsName} has no http routes`);
  const routes = http.map((route, index): RoutingRoute => {
    const label = route.name !== undefined ? `http route "${route.name}"` : `http route #${index}`;
    const where = `VirtualService ${vsName} ${label}`;
    const matches = route.match && route.match.length > 0 ? route.match.map((m, i) => matchCondition(m, `${where} match[${i}]`, scope)) : undefined;
    const matchesHeaders = (route.match ?? []).some((m) => Object.keys(m.headers ?? {}).length > 0);
    let destinations: RouteDestination[] | undefined;
    if (route.route && route.route.length > 0) {
      const lone = route.route.length === 1;
      destinations = route.route.map((entry) => ({
        host: entry.destination.host,
        version: versionOf(entry.destination, scope),
        weight: entry.weight ?? (lone ? 100 : 0),
      }));
      const sum = destinations.reduce((total, d) => total + d.weight, 0);
      if (sum !== 100) throw new MeshConfigError(`${where}: weights sum to ${sum}, expected 100`);
    }
    const mirror = route.mirror ? { version: versionOf(route.mirror, scope), percentage: route.mirrorPercentage?.value ?? 100 } : undefined;
    return { label, name: route.name, matches, matchesHeaders, destinations, ...(mirror ? { mirror } : {}) };
  });
  let followed: number[];
  if (scope.routes && scope.routes.length > 0) {
    followed = scope.routes.map((name) => {
      const index = routes.findIndex((route) => route.name === name);
      if (index < 0) {
        const known = routes.flatMap((route) => (route.name !== undefined ? [route.name] : []));
        throw new MeshConfigError(`VirtualService ${vsName} has no http route named "${name}" (it has: ${known.join(", ") || "no named routes"})`);
      }
      return index;
    });
  } else {
    // The catch-all route, so that a header route inserted before it is not taken for the main one.
    const catchAll = routes.findIndex((route) => route.matches === undefined);
    followed = [catchAll < 0 ? 0 : catchAll];
  }
  return { resourceVersion: metadata.resourceVersion, routes, followed };
}

/** Where Istio would send `request`: the first matching route, then a destination by weight. */
export function routeRequest(table: RoutingTable, request: SimulatedRequest, random: () => number): RoutingResult {
  const route = table.routes.find((r) => r.matches === undefined || r.matches.some((matches) => matches(request)));
  if (!route) return { unrouted: "no http route matched" };
  if (!route.destinations) return { unrouted: `${route.label} has no destinations` };
  const draw = random() * 100;
  let cumulative = 0;
  let chosen: RouteDestination | undefined;
  for (const destination of route.destinations) {
    cumulative += destination.weight;
    if (draw < cumulative) {
      chosen = destination;
      break;
    }
  }
  if (!chosen) return { unrouted: `${route.label} has no weighted destination` }; // unreachable: weights sum to 100
  if (chosen.version === undefined) return { unrouted: `destination ${chosen.host} is not a version of the service` };
  // Drawn only on mirroring routes, so that tables without a mirror route the same requests as before.
  const mirrored = route.mirror?.version !== undefined && random() * 100 < route.mirror.percentage ? route.mirror.version : undefined;
  return mirrored !== undefined ? { version: chosen.version, mirror: mirrored } : { version: chosen.version };
}

function weightsOf(route: RoutingRoute | undefined): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const destination of route?.destinations ?? []) {
    if (destination.version !== undefined) weights[destination.version] = (weights[destination.version] ?? 0) + destination.weight;
  }
  return weights;
}

export function observeRouting(table: RoutingTable): ObservedRouting {
  const routes: Record<string, Record<string, number>> = {};
  for (const index of table.followed) routes[table.routes[index]?.name ?? `#${index}`] = weightsOf(table.routes[index]);
  const headerRoutes = table.routes.filter((route) => route.matchesHeaders);
  const headerRouteVersions = new Set(headerRoutes.flatMap((route) => (route.destinations ?? []).flatMap((d) => (d.version !== undefined && d.weight > 0 ? [d.version] : []))));
  return {
    resourceVersion: table.resourceVersion,
    weights: weightsOf(table.routes[table.followed[0] ?? 0]),
    routes,
    headerRoute: headerRoutes.length > 0,
    headerRouteVersions: [...headerRouteVersions].sort(),
  };
}
