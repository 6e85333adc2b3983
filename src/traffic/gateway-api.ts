/**
 * The Gateway API router (see router.ts): drives one HTTPRoute (gateway.networking.k8s.io/v1),
 * each version a Service of its own as a weighted backendRef. Reads the HTTPRoute live, writes
 * only the managed rules' backendRefs, Tideway's header rule and the claim on those rules
 * (route-owners.ts, the same annotation as on a VirtualService) with a resourceVersion
 * precondition (retrying from a fresh read on conflict), and reads it back to verify.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { isConflict, kubeError, isNotFound } from "../kube/errors.js";
import { headerRouteName, type Rollout } from "../rollout/model.js";
import { httpRouteOf, type HttpRouteRef } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";
import { findClaimant } from "./claimants.js";
import { claimedRules, observedHttpWeights, routeHttpTraffic } from "./http-route.js";
import { claimRoutes, otherOwners, ownerName, readRouteOwners, releaseRoutes, withRouteOwners, type RouteOwners } from "./route-owners.js";
import { TrafficError, type Sighting, type TrafficOutcome, type TrafficRouter } from "./router.js";
import { isObject, RoutingError, type Json, type JsonObject } from "./virtual-service.js";

const HTTP_ROUTE = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" } as const;

export class HttpRouteTraffic implements TrafficRouter {
  private readonly api: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly maxAttempts = 5,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async setTraffic(rollout: Rollout, traffic: Traffic, formerVersions: readonly string[] = []): Promise<TrafficOutcome> {
    const route = this.routeOf(rollout);
    const headerRule = headerRouteName(rollout.spec);
    let writes = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const object = await this.read(route);
      const { spec, metadata, rules } = parts(object);
      const claim = await this.claim(rollout, route, metadata, rules);
      const next = routing(() => routeHttpTraffic(rules, rollout, route, traffic, headerRule, formerVersions));
      // The claim goes in the same write as the weights: a rule is never driven unclaimed.
      const nextMetadata = withRouteOwners(metadata, claim.owners);
      if (isDeepStrictEqual(next, rules) && isDeepStrictEqual(nextMetadata, metadata)) return { wrote: false, writes, takenOver: [] };
      try {
        writes += 1;
        await this.api.replaceNamespacedCustomObject({ ...HTTP_ROUTE, namespace: route.namespace, name: route.name, body: { ...object, metadata: nextMetadata, spec: { ...spec, rules: next } } });
      } catch (error) {
        const failure = kubeError(error, `writing HTTPRoute ${route.namespace}/${route.name}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue; // someone else wrote it: start again from what is there now
        throw new TrafficError(failure.message);
      }
      if (!isDeepStrictEqual(next, rules)) await this.verify(rollout, route, next, headerRule);
      return { wrote: true, writes, takenOver: claim.takenOver };
    }
    throw new TrafficError(`HTTPRoute ${route.namespace}/${route.name} kept changing; gave up after ${this.maxAttempts} attempts`);
  }

  async sighting(rollout: Rollout): Promise<Sighting> {
    const route = this.routeOf(rollout);
    const { metadata, rules } = parts(await this.read(route));
    try {
      await this.claim(rollout, route, metadata, rules);
    } catch (error) {
      if (!(error instanceof TrafficError)) throw error;
      if (error.ownedBy !== undefined) return { routeConflict: { ownedBy: error.ownedBy, message: error.message } };
      return {}; // rules not found, or owners unreadable: the write will say so
    }
    const weights = observedHttpWeights(rules, rollout, route, headerRouteName(rollout.spec)).weights;
    const [top, second] = Object.entries(weights).sort((a, b) => b[1] - a[1]);
    if (!top || top[1] <= 0 || (second !== undefined && second[1] === top[1])) return {};
    return { liveVersion: top[0] };
  }

  async releaseRoutes(rollout: Rollout): Promise<void> {
    const route = this.routeOf(rollout);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let object: JsonObject;
      try {
        object = await this.read(route);
      } catch (error) {
        if (error instanceof TrafficError && error.notFound) return; // no HTTPRoute, no claim
        throw error;
      }
      const { metadata } = parts(object);
      let owners: RouteOwners;
      try {
        owners = readRouteOwners(metadata, route.name);
      } catch (error) {
        if (error instanceof RoutingError) return; // unreadable: nothing of ours can be told apart in it
        throw error;
      }
      const nextMetadata = withRouteOwners(metadata, releaseRoutes(owners, ownerName(rollout)));
      if (isDeepStrictEqual(nextMetadata, metadata)) return;
      try {
        await this.api.replaceNamespacedCustomObject({ ...HTTP_ROUTE, namespace: route.namespace, name: route.name, body: { ...object, metadata: nextMetadata } });
        return;
      } catch (error) {
        const failure = kubeError(error, `writing HTTPRoute ${route.namespace}/${route.name}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue;
        throw new TrafficError(failure.message);
      }
    }
  }

  private routeOf(rollout: Rollout): HttpRouteRef {
    const route = httpRouteOf(rollout);
    if (route === undefined) throw new TrafficError(`Rollout ${ownerName(rollout)} names no HTTPRoute (trafficRouting.gatewayAPI.httpRoute)`);
    return route;
  }

  /** The owners once this Rollout claims its rules; a rule another existing Rollout still claims is refused. */
  private async claim(rollout: Rollout, route: HttpRouteRef, metadata: JsonObject, rules: Json[]): Promise<{ owners: RouteOwners; takenOver: string[] }> {
    const headerRule = headerRouteName(rollout.spec);
    const owners = routing(() => readRouteOwners(metadata, route.name));
    const claimed = routing(() => claimedRules(rules, rollout, route, headerRule));
    const takenOver: string[] = [];
    for (const [owner, held] of otherOwners(owners, claimed, ownerName(rollout))) {
      const claimant = await findClaimant(this.api, owner);
      const contested = claimant === "unreadable" ? held : claimant === undefined ? [] : held.filter((rule) => stillClaims(claimant, route, rules, rule));
      if (contested.length > 0) {
        const rule = contested.find((r) => r !== headerRule);
        const message =
          rule === undefined
            ? `header rule ${headerRule} of HTTPRoute ${route.name} is managed by Rollout ${owner}: give this Rollout's header route another name (setHeaderRoute.name)`
            : `rule ${rule} of HTTPRoute ${route.name} is managed by Rollout ${owner}: name another rule in ${route.where}.rules, or remove one of the two Rollouts`;
        throw new TrafficError(message, false, owner);
      }
      takenOver.push(...held);
    }
    return { owners: claimRoutes(owners, claimed, ownerName(rollout)), takenOver };
  }

  private async read(route: HttpRouteRef): Promise<JsonObject> {
    try {
      const object: unknown = await this.api.getNamespacedCustomObject({ ...HTTP_ROUTE, namespace: route.namespace, name: route.name });
      if (!isObject(object)) throw new TrafficError(`HTTPRoute ${route.namespace}/${route.name} is not an object`);
      return object;
    } catch (error) {
      if (error instanceof TrafficError) throw error;
      const failure = kubeError(error, `reading HTTPRoute ${route.namespace}/${route.name}`);
      if (isNotFound(failure)) throw new TrafficError(`HTTPRoute ${route.namespace}/${route.name} not found: create it, or fix ${route.where}.name`, true);
      throw new TrafficError(failure.message);
    }
  }

  /** Reads back what was written: the managed weights and the header rule must be as written. */
  private async verify(rollout: Rollout, route: HttpRouteRef, written: Json[], headerRule: string): Promise<void> {
    const { rules } = parts(await this.read(route));
    const observed = routing(() => observedHttpWeights(rules, rollout, route, headerRule));
    const expected = observedHttpWeights(written, rollout, route, headerRule);
    if (!isDeepStrictEqual(observed, expected)) {
      throw new TrafficError(`HTTPRoute ${route.namespace}/${route.name} does not route as written: wrote ${JSON.stringify(expected)}, read back ${JSON.stringify(observed)}`);
    }
  }
}

function parts(object: JsonObject): { spec: JsonObject; metadata: JsonObject; rules: Json[] } {
  const spec = isObject(object.spec) ? object.spec : {};
  return { spec, metadata: isObject(object.metadata) ? object.metadata : {}, rules: Array.isArray(spec.rules) ? spec.rules : [] };
}

/** A RoutingError (the HTTPRoute cannot be routed as the Rollout says) as the TrafficError people see. */
function routing<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof RoutingError) throw new TrafficError(error.message);
    throw error;
  }
}

/** Whether `claimant` still claims `rule` of this HTTPRoute; one whose rules cannot be found here counts as claiming it. */
function stillClaims(claimant: Rollout, route: HttpRouteRef, rules: Json[], rule: string): boolean {
  const named = httpRouteOf(claimant);
  if (named === undefined || named.namespace !== route.namespace || named.name !== route.name) return false;
  try {
    return claimedRules(rules, claimant, named, headerRouteName(claimant.spec)).includes(rule);
  } catch (error) {
    if (error instanceof RoutingError) return true;
    throw error;
  }
}
