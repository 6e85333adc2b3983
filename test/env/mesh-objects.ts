/**
 * A mesh service as an Istio user's cluster has it: a DestinationRule with a subset per version,
 * a VirtualService, and the Services and Deployments behind them (service-workloads.ts). One
 * helper for the integration tests, the benchmarks and the demo.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { createServiceWorkloads, SERVICE_PORT, waitForReadyEndpoints } from "./service-workloads.js";

export const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;
export const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;
export const HTTP_ROUTE = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" } as const;

export interface MeshOptions {
  /** The DestinationRule's subsets. Default v1..v5. */
  versions?: string[];
  /** http routes of the VirtualService; default one route, "primary", all to v1. */
  http?: unknown[];
  /** A Service per version ("reviews-v1"), routed to by host instead of subset. */
  hostPerVersion?: boolean;
  /** Also a Gateway API HTTPRoute named as the service (one rule, "primary", all to `<service>-v1`); implies hostPerVersion. */
  httpRoute?: boolean;
  /** false: no Services or Deployments. Default true. */
  workloads?: boolean;
  /** The versions that get a Deployment. Default: all of `versions`. */
  workloadVersions?: string[];
  /** Replicas of each Deployment. Default 1. */
  replicas?: number;
  /** Extra pod labels per version, e.g. { v2: BAD_POD_LABELS.crashLoop }. */
  podLabels?: Record<string, Record<string, string>>;
}

/**
 * Creates the service's mesh objects and workloads in `namespace`. Waits for v1, the stable, to
 * have a ready endpoint (when it has a Deployment and no bad-pod labels), not for other versions.
 */
export async function createMesh(kc: KubeConfig, namespace: string, service: string, given: MeshOptions = {}): Promise<void> {
  const options = given.httpRoute ? { ...given, hostPerVersion: true } : given;
  const objects = kc.makeApiClient(CustomObjectsApi);
  const versions = options.versions ?? ["v1", "v2", "v3", "v4", "v5"];
  const primary = [{ name: "primary", route: [{ destination: options.hostPerVersion ? { host: `${service}-v1` } : { host: service, subset: "v1" } }] }];
  await Promise.all([
    objects.createNamespacedCustomObject({
      ...DR,
      namespace,
      body: {
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: service },
        spec: { host: service, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) },
      },
    }),
    objects.createNamespacedCustomObject({
      ...VS,
      namespace,
      body: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: service }, spec: { hosts: [service], http: options.http ?? primary } },
    }),
  ]);
  if (options.httpRoute) {
    await objects.createNamespacedCustomObject({
      ...HTTP_ROUTE,
      namespace,
      body: {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: service },
        // The service itself as the parent: a mesh (GAMMA) route, as Istio's waypoints take it.
        spec: { parentRefs: [{ group: "", kind: "Service", name: service, port: SERVICE_PORT }], rules: [{ name: "primary", backendRefs: [{ name: `${service}-v1`, port: SERVICE_PORT }] }] },
      },
    });
  }
  if (options.workloads === false) return;
  const workloadVersions = options.workloadVersions ?? versions;
  await createServiceWorkloads(kc, namespace, service, {
    versions,
    workloadVersions,
    ...(options.replicas !== undefined ? { replicas: options.replicas } : {}),
    ...(options.podLabels ? { podLabels: options.podLabels } : {}),
    ...(options.hostPerVersion ? { hostPerVersion: true } : {}),
  });
  if (workloadVersions.includes("v1") && !options.podLabels?.v1) {
    await waitForReadyEndpoints(kc, namespace, service, "v1", { ...(options.hostPerVersion ? { hostPerVersion: true } : {}) });
  }
}
