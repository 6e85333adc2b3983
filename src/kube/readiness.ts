/**
 * What the cluster shows of a Rollout's versions, for readiness gating: read, never written.
 * A version's pods are those its destination selects (subset mode: the DestinationRule subset's
 * labels; host mode: the selector of the version's own Service); its ready endpoints are the ready
 * endpoints of the Service's EndpointSlices that point at those pods, as Envoy would see them.
 * A pod that cannot run (CrashLoopBackOff, ImagePullBackOff, ...) is named as the version's failure.
 */
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Pod } from "@kubernetes/client-node";
import { destinationFor, destinationServiceName, namesService, servicePerVersion } from "../rollout/destination.js";
import type { Rollout } from "../rollout/model.js";
import type { VersionReadiness } from "../rollout/status.js";
import { DestinationRuleLists, type RuleView } from "./destination-rules.js";
import { isNotFound, kubeError } from "./errors.js";
import { podFailure } from "./pod-failure.js";

/** The port the reconciler reads readiness through. */
export interface ReadinessSource {
  read(rollout: Rollout, versions: readonly string[]): Promise<VersionReadiness[]>;
}

/** The label EndpointSlices carry to name their Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export class KubeReadiness implements ReadinessSource {
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly rules: DestinationRuleLists;

  /** `rules`: the DestinationRule reads shared with the Istio router (one is made when not given). */
  constructor(kc: KubeConfig, rules?: DestinationRuleLists) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    this.rules = rules ?? new DestinationRuleLists(kc);
  }

  async read(rollout: Rollout, versions: readonly string[]): Promise<VersionReadiness[]> {
    const namespace = rollout.namespace;
    const hostMode = servicePerVersion(rollout);
    const subsets = hostMode
      ? undefined
      : await this.subsetLabels(
          rollout,
          versions.map((v) => destinationFor(rollout, v).subset ?? ""),
        );
    const slicesOf = new Map<string, Promise<V1EndpointSlice[]>>();
    const slices = (service: string) => {
      let found = slicesOf.get(service);
      if (!found) {
        found = this.discovery
          .listNamespacedEndpointSlice({ namespace, labelSelector: `${SERVICE_NAME_LABEL}=${service}` })
          .then((list) => list.items)
          .catch((error: unknown) => {
            throw kubeError(error, `cannot list the EndpointSlices of Service ${namespace}/${service}`);
          });
        slicesOf.set(service, found);
      }
      return found;
    };
    const selectors = await Promise.all(
      versions.map(async (version) => {
        const service = destinationServiceName(rollout, version);
        const selector = hostMode ? await this.serviceSelector(namespace, service) : subsets?.get(destinationFor(rollout, version).subset ?? "");
        return { version, service, selector: selector !== undefined && Object.keys(selector).length > 0 ? selector : undefined };
      }),
    );
    // One list of pods for all versions when their selectors differ only in values (the usual
    // `version: v1` / `version: v2`): `version in (v1,v2)`, each version's pods picked out here.
    const wanted = selectors.flatMap((s) => (s.selector ? [s.selector] : []));
    const joint = jointSelector(wanted);
    const allPods = joint !== undefined && wanted.length > 1 ? this.pods(namespace, joint) : undefined;
    return Promise.all(
      selectors.map(async ({ version, service, selector }) => {
        if (selector === undefined) return { version, ready: 0, total: 0 };
        const [pods, endpointSlices] = await Promise.all([
          allPods ? allPods.then((list) => list.filter((pod) => matches(pod, selector))) : this.pods(namespace, selectorText(selector)),
          slices(service),
        ]);
        return count(version, pods, endpointSlices);
      }),
    );
  }

  /**
   * Subset name -> labels, from the DestinationRule(s) in the namespace whose host is the service:
   * the rule named as the service alone when it is for that host, else every such rule of the
   * namespace's list (both reads shared with the router); read again at once when a subset asked
   * for is missing (just added for a new version).
   */
  private async subsetLabels(rollout: Rollout, needed: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const subsets = await this.readSubsetLabels(rollout, false);
    if (needed.every((name) => subsets.has(name))) return subsets;
    return this.readSubsetLabels(rollout, true);
  }

  private async readSubsetLabels(rollout: Rollout, fresh: boolean): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    let rules: RuleView[];
    try {
      rules = await this.rules.forService(rollout, { fresh });
    } catch (error) {
      const failure = kubeError(error, `cannot list DestinationRules in ${rollout.namespace}`);
      if (isNotFound(failure)) return out;
      throw failure;
    }
    for (const rule of rules) {
      const host = rule.spec.host;
      if (typeof host !== "string" || !namesService(rollout, host)) continue;
      for (const subset of rule.spec.subsets ?? []) {
        if (typeof subset.name !== "string" || typeof subset.labels !== "object" || subset.labels === null) continue;
        out.set(subset.name, subset.labels as Record<string, string>);
      }
    }
    return out;
  }

  private async serviceSelector(namespace: string, service: string): Promise<Record<string, string> | undefined> {
    try {
      return (await this.core.readNamespacedService({ namespace, name: service })).spec?.selector;
    } catch (error) {
      const failure = kubeError(error, `cannot read Service ${namespace}/${service}`);
      if (isNotFound(failure)) return undefined;
      throw failure;
    }
  }

  private async pods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    try {
      return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    } catch (error) {
      throw kubeError(error, `cannot list the pods of ${namespace} matching ${labelSelector}`);
    }
  }
}

/** "app=reviews,version=v2". */
function selectorText(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/**
 * One label selector that covers every selector given, when they have the same keys:
 * `app=reviews,version in (v1,v2)`; undefined when they cannot be joined.
 */
export function jointSelector(selectors: readonly Record<string, string>[]): string | undefined {
  const first = selectors[0];
  if (first === undefined) return undefined;
  const keys = Object.keys(first).sort();
  if (selectors.some((s) => Object.keys(s).sort().join("\u0000") !== keys.join("\u0000"))) return undefined;
  return keys
    .map((key) => {
      const values = [...new Set(selectors.map((s) => s[key] as string))];
      return values.length === 1 ? `${key}=${values[0]}` : `${key} in (${values.join(",")})`;
    })
    .join(",");
}

function matches(pod: V1Pod, selector: Record<string, string>): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** Ready endpoints among the version's pods (each pod once, whatever slices repeat it), and why they fail. */
export function count(version: string, pods: readonly V1Pod[], slices: readonly V1EndpointSlice[]): VersionReadiness {
  const live = pods.filter((pod) => pod.metadata?.deletionTimestamp === undefined && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed");
  const names = new Set(live.map((pod) => pod.metadata?.name));
  const ready = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      const pod = endpoint.targetRef?.kind === "Pod" ? endpoint.targetRef.name : undefined;
      // The API says an unset `ready` means ready; a terminating endpoint is never ready.
      if (pod !== undefined && names.has(pod) && endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true) ready.add(pod);
    }
  }
  const failure = failureOf(live.filter((pod) => !ready.has(pod.metadata?.name ?? "")));
  return { version, ready: ready.size, total: live.length, ...(failure !== undefined ? { failure } : {}) };
}

/** "pod reviews-v2-5d9c-x: container reviews CrashLoopBackOff: back-off 10s restarting failed container". */
function failureOf(pods: readonly V1Pod[]): string | undefined {
  for (const pod of pods) {
    const failure = podFailure(pod);
    if (failure !== undefined) return `pod ${pod.metadata?.name ?? "?"}: ${failure}`;
  }
  return undefined;
}
