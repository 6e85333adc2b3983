/**
 * Which Rollout manages which route of a VirtualService, recorded on the VirtualService itself in
 * the annotation `tideway.io/route-owners` (`{"<route>": "<namespace>/<rollout>"}`), so that two
 * Rollouts naming one route cannot both drive it. Pure: the adapter (istio.ts) reads the owners,
 * asks whether a recorded owner still exists, and writes the claim in the same
 * precondition-guarded write as the weights.
 */
import { ROUTE_OWNERS_ANNOTATION } from "../rollout/annotations.js";
import type { RouteConflict } from "../rollout/engine.js";
import { headerRouteName, mirrorRouteName, type Rollout } from "../rollout/model.js";
import { virtualServicesOf, type VirtualServiceRef } from "../rollout/routing.js";
import { isObject, managedRouteIndexes, RoutingError, type Json, type JsonObject } from "./virtual-service.js";

/** The key of a managed route that has no name (the VirtualService's only route). */
export const UNNAMED_ROUTE = "(unnamed)";

/** Route name -> "namespace/rollout". */
export type RouteOwners = Record<string, string>;
export type { RouteConflict };

export function ownerName(rollout: Pick<Rollout, "namespace" | "name">): string {
  return `${rollout.namespace}/${rollout.name}`;
}

/**
 * The routes a Rollout claims: its managed routes, and its header route, which it adds and
 * removes (a second Rollout of the same service would remove the first one's). Throws
 * RoutingError when the managed routes cannot be found.
 */
export function claimedRoutes(http: Json[], rollout: Rollout, vs: VirtualServiceRef): string[] {
  const header = headerRouteName(rollout.spec);
  // The mirror route is its own only when it mirrors matching requests (a route it adds and removes).
  const mirror = rollout.spec.steps.some((step) => step.setMirrorRoute?.match !== undefined) ? [mirrorRouteName(rollout.spec)] : [];
  const managed = managedRouteIndexes(http, vs, [header, mirrorRouteName(rollout.spec)]).map((index) => {
    const route = http[index];
    return isObject(route) && typeof route.name === "string" ? route.name : UNNAMED_ROUTE;
  });
  return [...new Set([...managed, header, ...mirror])];
}

/** The owners recorded in a VirtualService's metadata; RoutingError when the annotation is not readable. */
export function readRouteOwners(metadata: Json | undefined, vsName: string): RouteOwners {
  const annotations = isObject(metadata) && isObject(metadata.annotations) ? metadata.annotations : {};
  const text = annotations[ROUTE_OWNERS_ANNOTATION];
  if (text === undefined) return {};
  let parsed: Json | undefined;
  try {
    parsed = typeof text === "string" ? (JSON.parse(text) as Json) : undefined;
  } catch {
    parsed = undefined;
  }
  const owners: RouteOwners = {};
  for (const [route, owner] of Object.entries(isObject(parsed) ? parsed : {})) if (typeof owner === "string") owners[route] = owner;
  if (!isObject(parsed) || Object.keys(owners).length !== Object.keys(parsed).length) {
    throw new RoutingError(
      `VirtualService ${vsName}: annotation ${ROUTE_OWNERS_ANNOTATION} is not a JSON object of route name to "namespace/rollout" (found ${JSON.stringify(text).slice(0, 80)}): fix it or remove it`,
    );
  }
  return owners;
}

/** The other Rollouts recorded as owning any of `routes`, each with the routes it holds, in `routes` order. */
export function otherOwners(owners: RouteOwners, routes: readonly string[], owner: string): Map<string, string[]> {
  const others = new Map<string, string[]>();
  for (const route of routes) {
    const holder = owners[route];
    if (holder === undefined || holder === owner) continue;
    others.set(holder, [...(others.get(holder) ?? []), route]);
  }
  return others;
}

/**
 * The owners once `owner` claims exactly `routes` on this VirtualService: claims it held on other
 * routes are given up, and any other claim on `routes` is replaced (the caller has found it stale).
 */
export function claimRoutes(owners: RouteOwners, routes: readonly string[], owner: string): RouteOwners {
  const next: RouteOwners = releaseRoutes(owners, owner);
  for (const route of routes) next[route] = owner;
  return sorted(next);
}

/** The owners without `owner`'s claims (its Rollout is being deleted). */
export function releaseRoutes(owners: RouteOwners, owner: string): RouteOwners {
  return sorted(Object.fromEntries(Object.entries(owners).filter(([, holder]) => holder !== owner)));
}

function sorted(owners: RouteOwners): RouteOwners {
  return Object.fromEntries(Object.entries(owners).sort(([a], [b]) => a.localeCompare(b)));
}

/** `metadata` with the owners annotation set, or removed when nobody owns anything; nothing else changes. */
export function withRouteOwners(metadata: JsonObject, owners: RouteOwners): JsonObject {
  const current = isObject(metadata.annotations) ? metadata.annotations : undefined;
  const annotations: JsonObject = { ...current };
  if (Object.keys(owners).length > 0) annotations[ROUTE_OWNERS_ANNOTATION] = JSON.stringify(owners);
  else delete annotations[ROUTE_OWNERS_ANNOTATION];
  if (current === undefined && Object.keys(annotations).length === 0) return metadata;
  return { ...metadata, annotations };
}

/**
 * Whether `claimant` (the recorded owner as it is now) still claims `route` of this
 * VirtualService. One that cannot be routed here counts as claiming it: refusing is visible,
 * taking a route over is not.
 */
export function stillClaims(claimant: Rollout, vs: { namespace: string; name: string }, http: Json[], route: string): boolean {
  const named = virtualServicesOf(claimant).find((ref) => ref.namespace === vs.namespace && ref.name === vs.name);
  if (named === undefined) return false;
  try {
    return claimedRoutes(http, claimant, named).includes(route);
  } catch (error) {
    if (error instanceof RoutingError) return true;
    throw error;
  }
}

/** "route primary of VirtualService reviews is managed by Rollout bookinfo/reviews-a", and what to do about it. */
export function describeConflict(rollout: Rollout, vs: VirtualServiceRef, routes: readonly string[], ownedBy: string): string {
  const vsName = vs.namespace === rollout.namespace ? vs.name : `${vs.namespace}/${vs.name}`;
  const header = headerRouteName(rollout.spec);
  const route = routes.find((r) => r !== header);
  if (route === undefined) {
    return `header route ${header} of VirtualService ${vsName} is managed by Rollout ${ownedBy}: give this Rollout's header route another name (setHeaderRoute.name)`;
  }
  return `route ${route} of VirtualService ${vsName} is managed by Rollout ${ownedBy}: name another route in ${vs.where}.routes, or remove one of the two Rollouts`;
}
