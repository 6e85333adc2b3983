/**
 * The pure part of Istio routing: given a VirtualService as the API server has it and the
 * traffic a Rollout wants, the VirtualService to write. Only the managed routes' stable and
 * canary destinations and their weights change, plus Tideway's own header route; every other
 * route, field and destination is carried over as it was.
 */
import { destinationFor, versionOfDestination, type Destination } from "../rollout/destination.js";
import { mirrorRouteName, type Rollout } from "../rollout/model.js";
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
export function managedRouteIndexes(http: Json[], vs: Pick<VirtualServiceRef, "name" | "routes" | "where">, ownRoutes?: string | readonly string[]): number[] {
  const names = vs.routes;
  const vsName = vs.name;
  const own: readonly string[] = ownRoutes === undefined ? [] : typeof ownRoutes === "string" ? [ownRoutes] : ownRoutes;
  if (names === undefined) {
    // Tideway's own routes (header route, mirror route) are never the one route it manages.
    const candidates = http.flatMap((route, index) => (isObject(route) && typeof route.name === "string" && own.includes(route.name) ? [] : [index]));
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

/**
 * A managed rule's entries (VirtualService destinations, HTTPRoute backendRefs) split in two: this
 * Rollout's, one per version (the first seen), and everyone else's in their order, with where the
 * first of ours stood among them and the weight the others take.
 */
export function partitionEntries(
  entries: Json[],
  versionAt: (entry: Json | undefined) => string | undefined,
  known: ReadonlySet<string>,
  weightOf: (entry: Json) => number,
): { managed: Map<string, JsonObject>; others: Json[]; othersBeforeFirstManaged: number; unrelatedWeight: number } {
  const owned = ownedVersions(entries, versionAt, known);
  const managed = new Map<string, JsonObject>();
  const others: Json[] = [];
  let othersBeforeFirstManaged = -1;
  let unrelatedWeight = 0;
  for (const entry of entries) {
    const version = versionAt(entry);
    if (version !== undefined && owned(version) && isObject(entry)) {
      if (!managed.has(version)) managed.set(version, entry);
      if (othersBeforeFirstManaged < 0) othersBeforeFirstManaged = others.length;
    } else {
      others.push(entry);
      unrelatedWeight += weightOf(entry);
    }
  }
  return { managed, others, othersBeforeFirstManaged, unrelatedWeight };
}

function rewriteRoute(route: JsonObject, scheme: DestinationScheme, traffic: Traffic, vsName: string, formerVersions: readonly string[]): JsonObject {
  const destinations = Array.isArray(route.route) ? route.route : [];
  const versionAt = (entry: Json | undefined) => (isObject(entry) && isObject(entry.destination) ? scheme.versionOf(entry.destination) : undefined);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  // Istio reads an absent weight as 0 beside others.
  const { managed, others, othersBeforeFirstManaged, unrelatedWeight } = partitionEntries(destinations, versionAt, known, (entry) =>
    isObject(entry) && typeof entry.weight === "number" ? entry.weight : 0,
  );
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
  const mirrorName = mirrorRouteName(rollout.spec);
  const own = [headerRouteName, mirrorName];
  const indexes = managedRouteIndexes(http, vs, own);
  const known = new Set([traffic.stableVersion, ...(traffic.canaryVersion !== undefined ? [traffic.canaryVersion] : []), ...formerVersions]);
  // Mirroring all of a managed route's requests is a field of that route; mirroring only matching ones is a route of its own.
  const mirrorAll = traffic.mirror !== undefined && traffic.mirror.headers === undefined && traffic.canaryVersion !== undefined ? traffic.mirror : undefined;
  const next = http.map((route, index) => {
    if (!indexes.includes(index) || !isObject(route)) return route;
    return withMirror(
      rewriteRoute(route, scheme, traffic, vsName, formerVersions),
      scheme,
      known,
      mirrorAll && traffic.canaryVersion ? { version: traffic.canaryVersion, percentage: mirrorAll.percentage } : undefined,
      vsName,
    );
  });
  const withoutOwn = next.filter((route) => !(isObject(route) && typeof route.name === "string" && own.includes(route.name)));
  const added: JsonObject[] = [];
  if (traffic.headerRoute && traffic.canaryVersion !== undefined) {
    const canary = scheme.destination(traffic.canaryVersion);
    added.push({ name: headerRouteName, match: [{ headers: headerMatch(traffic.headerRoute.headers) }], route: [{ destination: { ...canary }, weight: 100 }] });
  }
  const first = Math.min(...managedRouteIndexes(withoutOwn, vs, own));
  if (traffic.mirror?.headers !== undefined && traffic.canaryVersion !== undefined) {
    const base = withoutOwn[first];
    const route = isObject(base) && Array.isArray(base.route) ? base.route : [];
    // The managed route's destinations, as written above: mirrored requests are still answered by them.
    added.push({
      name: mirrorName,
      match: [{ headers: headerMatch(traffic.mirror.headers) }],
      route,
      mirror: { ...scheme.destination(traffic.canaryVersion) },
      mirrorPercentage: { value: traffic.mirror.percentage },
    });
  }
  if (added.length === 0) return withoutOwn;
  return [...withoutOwn.slice(0, first), ...added, ...withoutOwn.slice(first)];
}

/**
 * The managed route with Tideway's mirror set (`wanted`) or removed. A mirror to one of the
 * Rollout's versions is its own; someone else's mirror is left alone, and refused as a clash when
 * this Rollout wants to mirror the same route.
 */
function withMirror(route: JsonObject, scheme: DestinationScheme, known: ReadonlySet<string>, wanted: { version: string; percentage: number } | undefined, vsName: string): JsonObject {
  const current = isObject(route.mirror) ? scheme.versionOf(route.mirror) : undefined;
  const ours = current !== undefined && known.has(current);
  const mirror = route.mirror;
  const rest: JsonObject = { ...route };
  delete rest.mirror;
  delete rest.mirrorPercentage;
  if (wanted !== undefined) {
    if (mirror !== undefined && !ours)
      throw new RoutingError(`VirtualService ${vsName}: route ${String(route.name ?? "(unnamed)")} already mirrors to ${JSON.stringify(mirror)}; Tideway cannot mirror it as well`);
    // Like a new version's destination: the stable's as written (a qualified host, a port), with the canary's subset or host.
    const wantedDestination = scheme.destination(wanted.version);
    const entries = Array.isArray(route.route) ? route.route : [];
    const stable = entries.find((entry) => isObject(entry) && isObject(entry.destination) && scheme.versionOf(entry.destination) !== undefined);
    const base = isObject(stable) && isObject(stable.destination) ? stable.destination : {};
    const destination: JsonObject =
      wantedDestination.subset !== undefined
        ? { ...base, host: typeof base.host === "string" ? base.host : wantedDestination.host, subset: wantedDestination.subset }
        : { ...base, host: wantedDestination.host };
    return { ...rest, mirror: destination, mirrorPercentage: { value: wanted.percentage } };
  }
  return ours ? rest : route;
}

/** What the managed routes send where now: for verifying a write and for reporting. */
export function observedWeights(
  http: Json[],
  rollout: Rollout,
  vs: VirtualServiceRef,
  headerRouteName: string,
): { weights: Record<string, number>; headerRoute: boolean; mirrors?: Record<string, number> } {
  const scheme = destinationScheme(rollout);
  const weightsByVersion: Record<string, number> = {};
  const mirrorName = mirrorRouteName(rollout.spec);
  const mirrors: Record<string, number> = {};
  for (const route of http) {
    if (!isObject(route) || !isObject(route.mirror)) continue;
    const version = scheme.versionOf(route.mirror);
    const percentage = isObject(route.mirrorPercentage) && typeof route.mirrorPercentage.value === "number" ? route.mirrorPercentage.value : 100;
    if (version !== undefined) mirrors[version] = Math.max(mirrors[version] ?? 0, percentage);
  }
  for (const index of managedRouteIndexes(http, vs, [headerRouteName, mirrorName])) {
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
  const headerRoute = http.some((route) => isObject(route) && route.name === headerRouteName);
  return { weights: weightsByVersion, headerRoute, ...(Object.keys(mirrors).length > 0 ? { mirrors } : {}) };
}
