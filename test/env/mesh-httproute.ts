/**
 * The mesh simulator's picture of a Gateway API HTTPRoute (gateway.networking.k8s.io/v1), as a
 * mesh (GAMMA) route of the service: parsed into the same routing table as a VirtualService. A
 * request takes the most specific matching rule, as Gateway API says: here, the one with the most
 * header matches, then the first in order. Weights are relative (1 when absent). Pure.
 */
import { z } from "zod";
import { MeshConfigError, versionOf, type RouteDestination, type RoutingRoute, type RoutingScope, type RoutingTable, type SimulatedRequest } from "./mesh-routing.js";

const HeaderMatch = z.looseObject({ type: z.enum(["Exact", "RegularExpression"]).optional(), name: z.string().min(1), value: z.string() });
const PathMatch = z.looseObject({ type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).optional(), value: z.string().optional() });
const RuleMatch = z.looseObject({
  path: PathMatch.optional(),
  headers: z.array(HeaderMatch).optional(),
  queryParams: z.array(z.unknown()).optional(),
  method: z.string().optional(),
});
type RuleMatch = z.infer<typeof RuleMatch>;

const Filter = z.looseObject({
  type: z.string(),
  requestMirror: z
    .looseObject({
      backendRef: z.looseObject({ name: z.string().min(1) }),
      percent: z.int().min(0).max(100).optional(),
      fraction: z.looseObject({ numerator: z.int().min(0), denominator: z.int().min(1).optional() }).optional(),
    })
    .optional(),
});

const Rule = z.looseObject({
  name: z.string().optional(),
  filters: z.array(Filter).optional(),
  matches: z.array(RuleMatch).optional(),
  backendRefs: z.array(z.looseObject({ name: z.string().min(1), kind: z.string().optional(), weight: z.int().min(0).optional() })).optional(),
});

const HttpRoute = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional() }),
  spec: z.looseObject({ rules: z.array(Rule).optional() }),
});

function valueMatcher(type: "Exact" | "RegularExpression" | "PathPrefix" | undefined, value: string, where: string): (actual: string | undefined) => boolean {
  if (type === "RegularExpression") {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${value})$`);
    } catch (error) {
      throw new MeshConfigError(`${where}: invalid regular expression ${JSON.stringify(value)} (${(error as Error).message})`);
    }
    return (actual) => actual !== undefined && pattern.test(actual);
  }
  if (type === "PathPrefix") return (actual) => actual !== undefined && (value === "/" || actual === value || actual.startsWith(value.endsWith("/") ? value : `${value}/`));
  return (actual) => actual === value;
}

/** A rule's match as a condition on a simulated request (`GET /`, no query). */
function matchCondition(match: RuleMatch, where: string): (request: SimulatedRequest) => boolean {
  if (match.queryParams && match.queryParams.length > 0) return () => false;
  if (match.method !== undefined && match.method !== "GET") return () => false;
  const path = match.path;
  if (path && !valueMatcher(path.type ?? "PathPrefix", path.value ?? "/", `${where}.path`)("/")) return () => false;
  const checks = (match.headers ?? []).map((header, index) => {
    const test = valueMatcher(header.type ?? "Exact", header.value, `${where}.headers[${index}]`);
    return (request: SimulatedRequest) => test(request.headers[header.name.toLowerCase()]);
  });
  return (request) => checks.every((check) => check(request));
}

/** Parses an HTTPRoute object as the API server returns it; throws MeshConfigError. */
export function parseHttpRouteTable(object: unknown, scope: RoutingScope, routeName: string): RoutingTable {
  const parsed = HttpRoute.safeParse(object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MeshConfigError(`HTTPRoute ${routeName} is malformed at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "unknown"}`);
  }
  const rules = parsed.data.spec.rules ?? [];
  if (rules.length === 0) throw new MeshConfigError(`HTTPRoute ${routeName} has no rules`);
  const headerCount = (rule: z.infer<typeof Rule>) => Math.max(0, ...(rule.matches ?? []).map((m) => m.headers?.length ?? 0));
  // Most specific first (more header matches), keeping the written order among equals.
  const order = rules.map((rule, index) => ({ rule, index })).sort((a, b) => headerCount(b.rule) - headerCount(a.rule) || a.index - b.index);
  const routes = order.map(({ rule, index }): RoutingRoute => {
    const label = rule.name !== undefined ? `rule "${rule.name}"` : `rule #${index}`;
    const where = `HTTPRoute ${routeName} ${label}`;
    const matches = rule.matches && rule.matches.length > 0 ? rule.matches.map((m, i) => matchCondition(m, `${where} matches[${i}]`)) : undefined;
    const backends = (rule.backendRefs ?? []).filter((ref) => ref.kind === undefined || ref.kind === "Service");
    const total = backends.reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
    // No backend with weight: Gateway API answers 500 itself; the simulator counts it unrouted.
    const destinations: RouteDestination[] | undefined =
      total > 0 ? backends.map((ref) => ({ host: ref.name, version: versionOf({ host: ref.name }, scope), weight: ((ref.weight ?? 1) * 100) / total })) : undefined;
    const mirrorFilter = (rule.filters ?? []).find((filter) => filter.type === "RequestMirror")?.requestMirror;
    const fraction = mirrorFilter?.fraction;
    const percentage = mirrorFilter?.percent ?? (fraction ? (fraction.numerator * 100) / (fraction.denominator ?? 100) : 100);
    const mirror = mirrorFilter ? { version: versionOf({ host: mirrorFilter.backendRef.name }, scope), percentage } : undefined;
    return { label, name: rule.name, matches, matchesHeaders: headerCount(rule) > 0, destinations, ...(mirror ? { mirror } : {}) };
  });
  let followed: number[];
  if (scope.routes && scope.routes.length > 0) {
    followed = scope.routes.map((name) => {
      const index = routes.findIndex((route) => route.name === name);
      if (index < 0) throw new MeshConfigError(`HTTPRoute ${routeName} has no rule named "${name}"`);
      return index;
    });
  } else {
    const catchAll = routes.findIndex((route) => !route.matchesHeaders);
    followed = [catchAll < 0 ? 0 : catchAll];
  }
  return { resourceVersion: parsed.data.metadata.resourceVersion, routes, followed };
}
