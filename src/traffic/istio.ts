/**
 * The Istio VirtualService router (see router.ts): for each VirtualService of the Rollout, reads
 * it live, writes only the managed weights, Tideway's header route and the claim on those routes
 * (route-owners.ts) with a resourceVersion precondition (retrying from a fresh read on conflict),
 * and reads it back to verify. Checks that the DestinationRule has the subsets it routes to.
 * Several VirtualServices get the same traffic in one call; it counts as applied only when all do.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { DestinationRuleLists, type RuleView } from "../kube/destination-rules.js";
import { isConflict, isNotFound, kubeError } from "../kube/errors.js";
import { destinationFor, destinationRuleOf, servicePerVersion } from "../rollout/destination.js";
import { headerRouteName, type Rollout } from "../rollout/model.js";
import { virtualServiceLabel, virtualServicesOf, type VirtualServiceRef } from "../rollout/routing.js";
import type { Traffic } from "../rollout/traffic.js";
import { claimedRoutes, claimRoutes, describeConflict, otherOwners, ownerName, readRouteOwners, releaseRoutes, stillClaims, withRouteOwners, type RouteOwners } from "./route-owners.js";
import { findClaimant } from "./claimants.js";
import { TrafficError, type Sighting, type TrafficOutcome, type TrafficRouter } from "./router.js";
import { isObject, observedWeights, routeTraffic, RoutingError, type Json, type JsonObject } from "./virtual-service.js";

const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;

export class IstioTraffic implements TrafficRouter {
  private readonly api: CustomObjectsApi;
  private readonly rules: DestinationRuleLists;
  private readonly maxAttempts: number;

  /** `rules`: the DestinationRule reads shared with the readiness read (one is made when not given). */
  constructor(kc: KubeConfig, options: { maxAttempts?: number; rules?: DestinationRuleLists } = {}) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.maxAttempts = options.maxAttempts ?? 5;
    this.rules = options.rules ?? new DestinationRuleLists(kc);
  }

  /**
   * Claims the Rollout's routes and routes them as `traffic` says, one write per VirtualService. A
   * route another Rollout owns, on any of its VirtualServices, is refused (TrafficError with
   * `ownedBy`) and nothing is written. One VirtualService that fails does not stop the others;
   * the error names each that failed, and the next try writes only what is still wrong.
   * `formerVersions`: versions the Rollout released before, whose leftover destinations are its own.
   */
  async setTraffic(rollout: Rollout, traffic: Traffic, formerVersions: readonly string[] = []): Promise<TrafficOutcome> {
    const refs = virtualServicesOf(rollout);
    const [only] = refs;
    if (refs.length === 1 && only !== undefined) return this.routeOne(rollout, only, traffic, formerVersions, true);
    for (const ref of refs) await this.refuseIfOwned(rollout, ref);
    await this.checkSubsets(rollout, traffic);
    const outcome: TrafficOutcome = { wrote: false, writes: 0, takenOver: [] };
    const failures: TrafficError[] = [];
    for (const ref of refs) {
      try {
        const one = await this.routeOne(rollout, ref, traffic, formerVersions, false);
        outcome.wrote ||= one.wrote;
        outcome.writes += one.writes;
        outcome.takenOver.push(...one.takenOver.map((route) => `${virtualServiceLabel(rollout, ref)}: ${route}`));
      } catch (error) {
        if (!(error instanceof TrafficError)) throw error;
        failures.push(error);
      }
    }
    const [first] = failures;
    if (first === undefined) return outcome;
    const routed = refs.length - failures.length;
    throw new TrafficError(
      `${failures.map((f) => f.message).join("; ")} (${routed} of ${refs.length} VirtualServices routed as wanted)`,
      failures.every((f) => f.notFound),
      failures.find((f) => f.ownedBy !== undefined)?.ownedBy,
      first.failureCause,
    );
  }

  /** One VirtualService: claim, route, write with a precondition (retried on conflict), verify. */
  private async routeOne(rollout: Rollout, ref: VirtualServiceRef, traffic: Traffic, formerVersions: readonly string[], checkSubsets: boolean): Promise<TrafficOutcome> {
    const { namespace, name } = ref;
    const routeName = headerRouteName(rollout.spec);
    let writes = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const vs = await this.read(ref);
      const spec = isObject(vs.spec) ? vs.spec : {};
      const metadata = isObject(vs.metadata) ? vs.metadata : {};
      const http = Array.isArray(spec.http) ? spec.http : [];
      const claim = await this.claim(rollout, ref, metadata, http);
      if (attempt === 1 && checkSubsets) await this.checkSubsets(rollout, traffic);
      let next: Json[];
      try {
        next = routeTraffic(http, rollout, ref, traffic, routeName, formerVersions);
      } catch (error) {
        if (error instanceof RoutingError) throw new TrafficError(error.message);
        throw error;
      }
      // The claim goes in the same write as the weights: a route is never driven unclaimed.
      const nextMetadata = withRouteOwners(metadata, claim.owners);
      if (isDeepStrictEqual(next, http) && isDeepStrictEqual(nextMetadata, metadata)) return { wrote: false, writes, takenOver: [] };
      try {
        writes += 1;
        await this.api.replaceNamespacedCustomObject({ ...VS, namespace, name, body: { ...vs, metadata: nextMetadata, spec: { ...spec, http: next } } });
      } catch (error) {
        const failure = kubeError(error, `writing VirtualService ${namespace}/${name}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue; // someone else wrote it: start again from what is there now
        throw new TrafficError(failure.message);
      }
      // A write that only records the claim changed no route: the accepted write is proof enough.
      if (!isDeepStrictEqual(next, http)) await this.verify(rollout, ref, next, routeName, claim.owners);
      return { wrote: true, writes, takenOver: claim.takenOver };
    }
    throw new TrafficError(`VirtualService ${namespace}/${name} kept changing; gave up after ${this.maxAttempts} attempts`);
  }

  /** Throws the TrafficError of a route another Rollout owns on `ref`; any other trouble is left for the write to report. */
  private async refuseIfOwned(rollout: Rollout, ref: VirtualServiceRef): Promise<void> {
    try {
      const vs = await this.read(ref);
      const spec = isObject(vs.spec) ? vs.spec : {};
      await this.claim(rollout, ref, isObject(vs.metadata) ? vs.metadata : {}, Array.isArray(spec.http) ? spec.http : []);
    } catch (error) {
      if (!(error instanceof TrafficError)) throw error;
      if (error.ownedBy !== undefined) throw error;
    }
  }

  /**
   * What the VirtualServices route to now (the first one's live version) and whether another
   * Rollout owns a route this one names on any of them. The live version is undefined when there
   * is none (no destination that is a version of the service, routes not found). Throws
   * TrafficError when the first VirtualService cannot be read.
   */
  async sighting(rollout: Rollout): Promise<Sighting> {
    let liveVersion: string | undefined;
    for (const [index, ref] of virtualServicesOf(rollout).entries()) {
      let vs: JsonObject;
      try {
        vs = await this.read(ref);
      } catch (error) {
        if (index === 0 || !(error instanceof TrafficError)) throw error;
        continue; // the write will say what is wrong with it
      }
      const spec = isObject(vs.spec) ? vs.spec : {};
      const http = Array.isArray(spec.http) ? spec.http : [];
      try {
        await this.claim(rollout, ref, isObject(vs.metadata) ? vs.metadata : {}, http);
      } catch (error) {
        if (!(error instanceof TrafficError)) throw error;
        if (error.ownedBy !== undefined) return { routeConflict: { ownedBy: error.ownedBy, message: error.message } };
        continue; // routes not found, or owners unreadable: the write will say so
      }
      if (index === 0) liveVersion = topVersion(observedWeights(http, rollout, ref, headerRouteName(rollout.spec)).weights);
    }
    return liveVersion !== undefined ? { liveVersion } : {};
  }

  /** Gives up the Rollout's routes on each of its VirtualServices (its finalizer): another Rollout may claim them then. */
  async releaseRoutes(rollout: Rollout): Promise<void> {
    for (const ref of virtualServicesOf(rollout)) await this.releaseOne(rollout, ref);
  }

  private async releaseOne(rollout: Rollout, ref: VirtualServiceRef): Promise<void> {
    const { namespace, name } = ref;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let vs: JsonObject;
      try {
        vs = await this.read(ref);
      } catch (error) {
        if (error instanceof TrafficError && error.notFound) return; // no VirtualService, no claim
        throw error;
      }
      const metadata = isObject(vs.metadata) ? vs.metadata : {};
      let owners: RouteOwners;
      try {
        owners = readRouteOwners(metadata, name);
      } catch (error) {
        if (error instanceof RoutingError) return; // unreadable: nothing of ours can be told apart in it
        throw error;
      }
      const nextMetadata = withRouteOwners(metadata, releaseRoutes(owners, ownerName(rollout)));
      if (isDeepStrictEqual(nextMetadata, metadata)) return;
      try {
        await this.api.replaceNamespacedCustomObject({ ...VS, namespace, name, body: { ...vs, metadata: nextMetadata } });
        return;
      } catch (error) {
        const failure = kubeError(error, `writing VirtualService ${namespace}/${name}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue;
        throw new TrafficError(failure.message);
      }
    }
  }

  /**
   * The owners once this Rollout claims its routes. A route recorded for another Rollout is
   * refused while that Rollout exists and still names it; a stale claim is taken over.
   */
  private async claim(rollout: Rollout, ref: VirtualServiceRef, metadata: JsonObject, http: Json[]): Promise<{ owners: RouteOwners; takenOver: string[] }> {
    const { namespace, name } = ref;
    let owners: RouteOwners;
    let routes: string[];
    try {
      owners = readRouteOwners(metadata, name);
      routes = claimedRoutes(http, rollout, ref);
    } catch (error) {
      if (error instanceof RoutingError) throw new TrafficError(error.message);
      throw error;
    }
    const takenOver: string[] = [];
    for (const [owner, held] of otherOwners(owners, routes, ownerName(rollout))) {
      const claimant = await findClaimant(this.api, owner);
      const contested = claimant === "unreadable" ? held : claimant === undefined ? [] : held.filter((route) => stillClaims(claimant, { namespace, name }, http, route));
      if (contested.length > 0) throw new TrafficError(describeConflict(rollout, ref, contested, owner), false, owner);
      takenOver.push(...held);
    }
    return { owners: claimRoutes(owners, routes, ownerName(rollout)), takenOver };
  }

  private async read(ref: VirtualServiceRef): Promise<JsonObject> {
    const { namespace, name } = ref;
    try {
      const vs: unknown = await this.api.getNamespacedCustomObject({ ...VS, namespace, name });
      if (!isObject(vs)) throw new TrafficError(`VirtualService ${namespace}/${name} is not an object`);
      return vs;
    } catch (error) {
      if (error instanceof TrafficError) throw error;
      const failure = kubeError(error, `reading VirtualService ${namespace}/${name}`);
      if (isNotFound(failure)) throw new TrafficError(`VirtualService ${namespace}/${name} not found: create it, or fix ${ref.where}`, true, undefined, "NoVirtualService");
      throw new TrafficError(failure.message);
    }
  }

  /** Reads back what was written: the managed weights and header route must be as written. */
  private async verify(rollout: Rollout, ref: VirtualServiceRef, written: Json[], routeName: string, owners: RouteOwners): Promise<void> {
    const { namespace, name } = ref;
    const vs = await this.read(ref);
    const spec = isObject(vs.spec) ? vs.spec : {};
    const observed = observedWeights(Array.isArray(spec.http) ? spec.http : [], rollout, ref, routeName);
    const expected = observedWeights(written, rollout, ref, routeName);
    if (!isDeepStrictEqual(observed, expected)) {
      throw new TrafficError(`VirtualService ${namespace}/${name} does not route as written: wrote ${JSON.stringify(expected)}, read back ${JSON.stringify(observed)}`);
    }
    // Only this Rollout's claims: another Rollout may claim other routes meanwhile.
    const mine = (recorded: RouteOwners) => Object.keys(recorded).filter((route) => recorded[route] === ownerName(rollout));
    let readBack: string[] | undefined;
    try {
      readBack = mine(readRouteOwners(vs.metadata, name));
    } catch {
      readBack = undefined;
    }
    if (!isDeepStrictEqual(readBack, mine(owners))) {
      throw new TrafficError(`VirtualService ${namespace}/${name} does not record this Rollout's routes as written: wrote ${JSON.stringify(mine(owners))}, read back ${JSON.stringify(readBack)}`);
    }
  }

  /**
   * In subset mode, the DestinationRule for the service must define each subset routed to. The
   * shared read of it (the rule named as the service, or the namespace's list when that is not
   * the service's rule) may be a few seconds old; a missing rule or subset is looked for again in
   * a fresh read before it is reported.
   */
  private async checkSubsets(rollout: Rollout, traffic: Traffic): Promise<void> {
    if (servicePerVersion(rollout)) return;
    const wanted = [traffic.stableVersion, ...(traffic.canaryVersion ? [traffic.canaryVersion] : [])].map((v) => destinationFor(rollout, v).subset ?? v);
    const service = rollout.spec.service;
    const find = async (fresh: boolean) => {
      let rules: RuleView[];
      try {
        rules = await this.rules.forService(rollout, { fresh });
      } catch (error) {
        throw new TrafficError(kubeError(error, `listing DestinationRules in ${rollout.namespace}`).message);
      }
      const rule = destinationRuleOf(rollout, rules);
      const subsets = rule && Array.isArray(rule.spec.subsets) ? rule.spec.subsets.flatMap((s) => (isObject(s) && typeof s.name === "string" ? [s.name] : [])) : [];
      return { rule, subsets, missing: wanted.filter((subset) => !subsets.includes(subset)) };
    };
    let found = await find(false);
    if (found.rule === undefined || found.missing.length > 0) found = await find(true);
    const { rule, subsets, missing } = found;
    if (rule === undefined) {
      throw new TrafficError(`no DestinationRule for host ${service} in namespace ${rollout.namespace}: subsets ${wanted.join(", ")} are needed`, true, undefined, "NoDestinationRule");
    }
    const ruleName = isObject(rule.metadata) ? String(rule.metadata.name) : service;
    if (missing.length > 0) {
      throw new TrafficError(
        `DestinationRule ${rollout.namespace}/${ruleName} has no subset ${missing.join(", ")} (it has ${subsets.join(", ") || "none"}): add it before releasing`,
        false,
        undefined,
        "MissingSubset",
      );
    }
  }
}

/** The version most of the traffic goes to, when one clearly does. */
function topVersion(weights: Record<string, number>): string | undefined {
  const [top, second] = Object.entries(weights).sort((a, b) => b[1] - a[1]);
  if (!top || top[1] <= 0 || (second !== undefined && second[1] === top[1])) return undefined;
  return top[0];
}
