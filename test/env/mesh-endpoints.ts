/**
 * Which versions of the service the mesh simulator can reach, as Envoy sees its clusters: a
 * version is served only while it has a ready endpoint. With subsets, a ready endpoint of the
 * service's EndpointSlices whose Pod carries the DestinationRule subset's labels; with a Service
 * per version (host mode), a ready endpoint of that Service. Otherwise the calling sidecar answers
 * 503 itself, with the response flag Envoy would log: UH (no healthy upstream) or NC (no cluster:
 * no such subset or Service).
 */
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";
import type { VersionFrom } from "./mesh-routing.js";

export type UpstreamFailure = "UH" | "NC";

/** Why a version cannot be served now; undefined when it can. */
export type UpstreamHealth = (version: string) => UpstreamFailure | undefined;

export const ALL_HEALTHY: UpstreamHealth = () => undefined;

const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

interface DestinationRuleShape {
  spec?: { host?: string; subsets?: { name?: string; labels?: Record<string, string> }[] };
}

/** Names of the pods behind a slice's ready endpoints (a missing `ready` means ready). */
function readyPods(slices: readonly V1EndpointSlice[]): string[] {
  return slices.flatMap((slice) =>
    (slice.endpoints ?? []).flatMap((endpoint) => (endpoint.conditions?.ready !== false && endpoint.targetRef?.kind === "Pod" && endpoint.targetRef.name ? [endpoint.targetRef.name] : [])),
  );
}

const serviceNameOf = (slice: V1EndpointSlice) => slice.metadata?.labels?.["kubernetes.io/service-name"];

/**
 * A reader of the upstreams' health for one service. Each read lists EndpointSlices (and with
 * subsets DestinationRules); pods are listed only when a ready endpoint names a pod not seen yet,
 * since a pod's labels are fixed for its life as far as subsets go.
 */
export function upstreamReader(kc: KubeConfig, scope: { namespace: string; service: string; versionFrom: VersionFrom }): () => Promise<UpstreamHealth> {
  const { namespace, service, versionFrom } = scope;
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const podLabels = new Map<string, Record<string, string>>();

  if (typeof versionFrom === "function") return () => Promise.resolve(ALL_HEALTHY); // no way to tell which Service or subset a version is

  if (versionFrom === "host") {
    return async () => {
      const slices = (await discovery.listNamespacedEndpointSlice({ namespace })).items;
      const services = new Set(slices.map(serviceNameOf));
      const ready = new Set(slices.filter((slice) => readyPods([slice]).length > 0).map(serviceNameOf));
      return (version) => {
        const name = `${service}-${version}`;
        if (ready.has(name)) return undefined;
        return services.has(name) ? "UH" : "NC";
      };
    };
  }

  return async () => {
    const [slices, rules] = await Promise.all([
      discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` }),
      objects.listNamespacedCustomObject({ ...DR, namespace }) as Promise<{ items?: DestinationRuleShape[] }>,
    ]);
    const subsets = new Map<string, Record<string, string>>();
    for (const rule of rules.items ?? []) {
      if ((rule.spec?.host ?? "").split(".")[0] !== service) continue;
      for (const subset of rule.spec?.subsets ?? []) if (subset.name) subsets.set(subset.name, subset.labels ?? {});
    }
    const pods = readyPods(slices.items);
    if (pods.some((pod) => !podLabels.has(pod))) {
      const list = await core.listNamespacedPod({ namespace });
      podLabels.clear();
      for (const pod of list.items) if (pod.metadata?.name) podLabels.set(pod.metadata.name, pod.metadata.labels ?? {});
    }
    const readyLabels = pods.map((pod) => podLabels.get(pod) ?? {});
    return (version) => {
      const wanted = subsets.get(version);
      if (!wanted) return "NC";
      const served = readyLabels.some((labels) => Object.entries(wanted).every(([key, value]) => labels[key] === value));
      return served ? undefined : "UH";
    };
  };
}
