/**
 * Istio traffic: reads the live VirtualService, writes only the managed weights and Tideway's
 * header route with a resourceVersion precondition (retrying from a fresh read on conflict),
 * and reads it back to verify. Checks that the DestinationRule has the subsets it routes to.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { isConflict, isNotFound, kubeError } from "../kube/errors.js";
import { headerRouteName, type Rollout } from "../rollout/model.js";
import type { Traffic } from "../rollout/traffic.js";
import { destinationScheme, isObject, observedWeights, routeTraffic, RoutingError, type Json, type JsonObject } from "./virtual-service.js";

const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;
const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

/** A routing failure to show people: what is wrong and what to fix. */
export class TrafficError extends Error {
  constructor(message: string, readonly notFound = false) {
    super(message);
  }
}

export interface TrafficOutcome {
  /** False when the VirtualService already routed as wanted. */
  wrote: boolean;
  /** Writes it took (more than one after conflicts). */
  writes: number;
}

export class IstioTraffic {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig, private readonly maxAttempts = 5) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /** `formerVersions`: versions the Rollout released before, whose leftover destinations are its own. */
  async setTraffic(rollout: Rollout, traffic: Traffic, formerVersions: readonly string[] = []): Promise<TrafficOutcome> {
    const namespace = rollout.namespace;
    const name = rollout.spec.trafficRouting.istio.virtualService.name;
    const routeName = headerRouteName(rollout.spec);
    await this.checkSubsets(rollout, traffic);
    let writes = 0;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const vs = await this.read(namespace, name);
      const spec = isObject(vs.spec) ? vs.spec : {};
      const http = Array.isArray(spec.http) ? spec.http : [];
      let next: Json[];
      try {
        next = routeTraffic(http, rollout, traffic, routeName, formerVersions);
      } catch (error) {
        if (error instanceof RoutingError) throw new TrafficError(error.message);
        throw error;
      }
      if (isDeepStrictEqual(next, http)) return { wrote: false, writes };
      try {
        writes += 1;
        await this.api.replaceNamespacedCustomObject({ ...VS, namespace, name, body: { ...vs, spec: { ...spec, http: next } } });
      } catch (error) {
        const failure = kubeError(error, `writing VirtualService ${namespace}/${name}`);
        if (isConflict(failure) && attempt < this.maxAttempts) continue; // someone else wrote it: start again from what is there now
        throw new TrafficError(failure.message);
      }
      await this.verify(rollout, next, routeName);
      return { wrote: true, writes };
    }
    throw new TrafficError(`VirtualService ${namespace}/${name} kept changing; gave up after ${this.maxAttempts} attempts`);
  }

  /**
   * The version the managed routes send the most traffic to now, or undefined when there is
   * none (no VirtualService yet, no destination that is a version of the service).
   */
  async liveVersion(rollout: Rollout): Promise<string | undefined> {
    const vs = await this.read(rollout.namespace, rollout.spec.trafficRouting.istio.virtualService.name);
    const spec = isObject(vs.spec) ? vs.spec : {};
    let weights: Record<string, number>;
    try {
      weights = observedWeights(Array.isArray(spec.http) ? spec.http : [], rollout, headerRouteName(rollout.spec)).weights;
    } catch (error) {
      if (error instanceof RoutingError) return undefined;
      throw error;
    }
    const [top, second] = Object.entries(weights).sort((a, b) => b[1] - a[1]);
    if (!top || top[1] <= 0 || (second !== undefined && second[1] === top[1])) return undefined;
    return top[0];
  }

  private async read(namespace: string, name: string): Promise<JsonObject> {
    try {
      const vs: unknown = await this.api.getNamespacedCustomObject({ ...VS, namespace, name });
      if (!isObject(vs)) throw new TrafficError(`VirtualService ${namespace}/${name} is not an object`);
      return vs;
    } catch (error) {
      if (error instanceof TrafficError) throw error;
      const failure = kubeError(error, `reading VirtualService ${namespace}/${name}`);
      if (isNotFound(failure)) throw new TrafficError(`VirtualService ${namespace}/${name} not found: create it, or fix trafficRouting.istio.virtualService.name`, true);
      throw new TrafficError(failure.message);
    }
  }

  /** Reads back what was written: the managed weights and header route must be as written. */
  private async verify(rollout: Rollout, written: Json[], routeName: string): Promise<void> {
    const name = rollout.spec.trafficRouting.istio.virtualService.name;
    const vs = await this.read(rollout.namespace, name);
    const spec = isObject(vs.spec) ? vs.spec : {};
    const observed = observedWeights(Array.isArray(spec.http) ? spec.http : [], rollout, routeName);
    const expected = observedWeights(written, rollout, routeName);
    if (!isDeepStrictEqual(observed, expected)) {
      throw new TrafficError(`VirtualService ${rollout.namespace}/${name} does not route as written: wrote ${JSON.stringify(expected)}, read back ${JSON.stringify(observed)}`);
    }
  }

  /** In subset mode, the DestinationRule for the service must define each subset routed to. */
  private async checkSubsets(rollout: Rollout, traffic: Traffic): Promise<void> {
    const istio = rollout.spec.trafficRouting.istio;
    if (istio.host !== undefined) return;
    const scheme = destinationScheme(rollout);
    const wanted = [traffic.stableVersion, ...(traffic.canaryVersion ? [traffic.canaryVersion] : [])].map((v) => scheme.destination(v).subset ?? v);
    let rules: unknown;
    try {
      rules = await this.api.listNamespacedCustomObject({ ...DR, namespace: rollout.namespace });
    } catch (error) {
      throw new TrafficError(kubeError(error, `listing DestinationRules in ${rollout.namespace}`).message);
    }
    const service = rollout.spec.service;
    const items = isObject(rules) && Array.isArray(rules.items) ? rules.items : [];
    const rule = items.find((item) => isObject(item) && isObject(item.spec) && typeof item.spec.host === "string" && (item.spec.host === service || item.spec.host.startsWith(`${service}.`)));
    if (!isObject(rule) || !isObject(rule.spec)) {
      throw new TrafficError(`no DestinationRule for host ${service} in namespace ${rollout.namespace}: subsets ${wanted.join(", ")} are needed`, true);
    }
    const subsets = Array.isArray(rule.spec.subsets) ? rule.spec.subsets.flatMap((s) => (isObject(s) && typeof s.name === "string" ? [s.name] : [])) : [];
    const missing = wanted.filter((subset) => !subsets.includes(subset));
    const ruleName = isObject(rule.metadata) ? String(rule.metadata.name) : service;
    if (missing.length > 0) {
      throw new TrafficError(`DestinationRule ${rollout.namespace}/${ruleName} has no subset ${missing.join(", ")} (it has ${subsets.join(", ") || "none"}): add it before releasing`);
    }
  }
}
