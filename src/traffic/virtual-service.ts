/**
 * The pure part of Istio routing: given a VirtualService as the API server has it and the
 * traffic a Rollout wants, the VirtualService to write. Only the managed routes' stable and
 * canary destinations and their weights change, plus Tideway's own header route; every other
 * route, field and destination is carried over as it was.
 */
import { destinationFor, versionOfDestination, type Destination } from "../rollout/destination.js";
import type { Rollout } from "../rollout/model.js";
import type { VirtualServiceRef } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** How versions map to destinations and back (src/rollout/destination.ts). */
interface DestinationScheme {
  destination(version: string): Destination;
  /** The version a destination belongs to, or undefined when it is not one of this Rollout's. */
  versionOf(destination: JsonObject): string | undefined;
}

export class RoutingError extends Error {}

export const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

function destinationScheme(rollout: Rollout): DestinationScheme {
  return { destination: (version) => destinationFor(rollout, version), versionOf: versionOfDestination(rollout) };
}

/** The http routes Tideway manages in `vs`: those named in the Rollout, or the only one there is. */
export function managedRouteIndexes(http: Json[], vs: Pick<VirtualServiceRef, "name" | "routes" | "where">, headerRouteName?: string): number[] {
  const names = vs.routes;
  const vsName = vs.name;
  if (names === undefined) {
    const candidates = http.flatMap((route, index) => (isObject(route) && route.name === headerRouteName && headerRouteName !== undefined ? [] : [index]));
    if (candidates.length !== 1) {
      throw new RoutingError(`VirtualService ${vsName} has ${candidates.length} http routes; name the ones Tideway manages in ${vs.where}.routes`);
    }
    return candidates;
  }
  return names.map((name) => {
    const index = http.findIndex((route) => isObject(route) && route.name === name);
    if (index < 0) {
      const known = http.flatMap((route) => (isObject(route) && typeof route.name === "string" ? [route.name] : []));
      throw new RoutingError(`VirtualService ${vsName} has no http route named "${name}" (it has: ${known.join(", ") || "no named routes"})`);
    }
    return index;
  });
}

/** Splits what the Rollout's destinations may have (100 minus unrelated destinations) by the canary weight. */
export function splitWeights(total: number, canaryWeight: number): { stable: number; canary: number } {
  const canary = Math.round((total * canaryWeight) / 100);
  return { stable: total - canary, canary };
}

/**
 * Which destinations are the Rollout's own. A destination that merely looks like a version (the
 * default subset template "{{ version }}" matches any subset of the service) is someone else's
 * unless it is the stable or canary version or one this Rollout released before. Only when the
 * route holds none of those (the first sighting, taking the route over) are look-alikes its own.
 */
export function ownedVersions(destinations: Json[], versionAt: (entry: Json | undefined) => string | undefined, known: ReadonlySet<string>): (version: string | undefined) => boolean {
  const anyKnown = destinations.some((entry) => {
    const version = versionAt(entry);
    return version !== undefined && known.has(version);
  });
  return (version) => version !== undefined && (!anyKnown || known.has(version));
}

function rewriteRoute(route: JsonObject, scheme: DestinationScheme, traffic: Traffic, vsName: string, formerVersions: readonly string[]): JsonObject {
  const destinations = Array.isArray(route.route) ? route.route : [];
  const versionAt = (entry: Json | undefined) => (isObject(entry) && isObject(entry.destination) ? scheme.versionOf(entry.destination) : undefined);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  const owned = ownedVersions(destinations, versionAt, known);
  const managed = new Map<string, JsonObject>();
  const others: Json[] = [];
  let othersBeforeFirstManaged = -1;
  let unrelatedWeight = 0;
  for (const entry of destinations) {
    const version = versionAt(entry);
    if (version !== undefined && owned(version) && isObject(entry)) {
      if (!managed.has(version)) managed.set(version, entry);
      if (othersBeforeFirstManaged < 0) othersBeforeFirstManaged = others.length;
    } else {
      others.push(entry);
      if (isObject(entry) && typeof entry.weight === "number") unrelatedWeight += entry.weight;
    }
  }
  if (unrelatedWeight >= 100) throw new RoutingError(`VirtualService ${vsName}: other destinations of a managed route already take ${unrelatedWeight}% of its traffic`);
  const canaryVersion = traffic.canaryVersion !== traffic.stableVersion ? traffic.canaryVersion : undefined;
  const split = splitWeights(100 - unrelatedWeight, canaryVersion === undefined ? 0 : traffic.canaryWeight);
  const template = managed.get(traffic.stableVersion) ?? managed.values().next().value;
  const entryFor = (version: string, weight: number): JsonObject => {
    const own = managed.get(version);
    if (own) return { ...own, weight }; // its destination stays exactly as it was
    const wanted = scheme.destination(version);
    const base = isObject(template?.destination) ? template.destination : {};
    const destination: JsonObject = wanted.subset !== undefined ? { ...base, host: typeof base.host === "string" ? base.host : wanted.host, subset: wanted.subset } : { ...base, host: wanted.host };
    return { ...(template ?? {}), destination, weight };
  };
  const ours = [entryFor(traffic.stableVersion, split.stable)];
  // A canary at 0% needs no destination: starting and ending a release then writes nothing.
  if (canaryVersion !== undefined && split.canary > 0) ours.push(entryFor(canaryVersion, split.canary));
  const alone = ours.length === 1 && others.length === 0;
  const stableBefore = managed.get(traffic.stableVersion);
  if (alone && stableBefore && stableBefore.weight === undefined && ours[0]) delete ours[0].weight; // a lone destination needs no weight
  const at = othersBeforeFirstManaged < 0 ? 0 : othersBeforeFirstManaged;
  return { ...route, route: [...others.slice(0, at), ...ours, ...others.slice(at)] };
}

function headerMatch(match: Record<string, { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined }>): JsonObject {
  const headers: JsonObject = {};
  for (const [name, rule] of Object.entries(match)) {
    const value: JsonObject = {};
    if (rule.exact !== undefined) value.exact = rule.exact;
    if (rule.prefix !== undefined) value.prefix = rule.prefix;
    if (rule.regex !== undefined) value.regex = rule.regex;
    headers[name] = value;
  }
  return headers;
}

/**
 * The VirtualService `spec.http` to write for `traffic`; throws RoutingError when it cannot be
 * routed. `formerVersions`: versions this Rollout released before (status history), whose
 * destinations are its own to remove.
 */
export function routeTraffic(http: Json[], rollout: Rollout, vs: VirtualServiceRef, traffic: Traffic, headerRouteName: string, formerVersions: readonly string[] = []): Json[] {
  const vsName = vs.name;
  const scheme = destinationScheme(rollout);
  const indexes = managedRouteIndexes(http, vs, headerRouteName);
  const next = http.map((route, index) => (indexes.includes(index) && isObject(route) ? rewriteRoute(route, scheme, traffic, vsName, formerVersions) : route));
  const withoutHeaderRoute = next.filter((route) => !(isObject(route) && route.name === headerRouteName));
  if (!traffic.headerRoute || traffic.canaryVersion === undefined) return withoutHeaderRoute;
  const canary = scheme.destination(traffic.canaryVersion);
  const headerRoute: JsonObject = {
    name: headerRouteName,
    match: [{ headers: headerMatch(traffic.headerRoute.headers) }],
    route: [{ destination: { ...canary }, weight: 100 }],
  };
  const first = Math.min(...managedRouteIndexes(withoutHeaderRoute, vs, headerRouteName));
  return [...withoutHeaderRoute.slice(0, first), headerRoute, ...withoutHeaderRoute.slice(first)];
}

/** What the managed routes send where now: for verifying a write and for reporting. */
export function observedWeights(http: Json[], rollout: Rollout, vs: VirtualServiceRef, headerRouteName: string): { weights: Record<string, number>; headerRoute: boolean } {
  const scheme = destinationScheme(rollout);
  const weightsByVersion: Record<string, number> = {};
  for (const index of managedRouteIndexes(http, vs, headerRouteName)) {
    const route = http[index];
    const destinations = isObject(route) && Array.isArray(route.route) ? route.route : [];
    for (const entry of destinations) {
      if (!isObject(entry) || !isObject(entry.destination)) continue;
      const version = scheme.versionOf(entry.destination);
      if (version === undefined) continue;
      const weight = typeof entry.weight === "number" ? entry.weight : destinations.length === 1 ? 100 : 0;
      weightsByVersion[version] = Math.max(weightsByVersion[version] ?? 0, weight);
    }
  }
  return { weights: weightsByVersion, headerRoute: http.some((route) => isObject(route) && route.name === headerRouteName) };
}
