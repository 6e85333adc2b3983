/**
 * What a user's cluster has behind a mesh service, made real by startWorkloads(): a Service
 * `<service>` selecting `app: <service>`, one Deployment `<service>-<version>` per version, and
 * with a Service per version (host mode) a Service `<service>-<version>`. Plus the levers tests
 * pull on them: a pod's readiness, a version's replicas, and what its endpoints say.
 */
import { AppsV1Api, CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { waitUntil } from "./process.js";

/** The port of every test Service, as bookinfo's. */
export const SERVICE_PORT = 9080;

/** Pod labels that make a bad version (kwok-stages.yaml): ready never, crash loop, image pull back-off. */
export const BAD_POD_LABELS = {
  neverReady: { "tideway.test/ready": "never" },
  crashLoop: { "tideway.test/fail": "crash" },
  imagePull: { "tideway.test/fail": "image" },
} as const satisfies Record<string, Record<string, string>>;

export interface ServiceWorkloadsOptions {
  /** The versions of the service; with `hostPerVersion`, each gets its Service `<service>-<version>`. */
  versions: readonly string[];
  /** The versions that get a Deployment. Default: all of `versions`. */
  workloadVersions?: readonly string[];
  /** Replicas of each Deployment. Default 1. */
  replicas?: number;
  /** Extra pod labels per version, e.g. { v2: BAD_POD_LABELS.crashLoop }. */
  podLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** A Service per version, "reviews-v2", as `host: reviews-{{ version }}` routes to. */
  hostPerVersion?: boolean;
}

/**
 * Creates the service's Services and Deployments. Does not wait for pods: use
 * waitForReadyEndpoints for the versions a test needs serving.
 */
export async function createServiceWorkloads(kc: KubeConfig, namespace: string, service: string, options: ServiceWorkloadsOptions): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const serviceObject = (name: string, selector: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels: { app: service } },
    spec: { selector, ports: [{ name: "http", port: SERVICE_PORT, targetPort: SERVICE_PORT }] },
  });
  const creations: Promise<unknown>[] = [core.createNamespacedService({ namespace, body: serviceObject(service, { app: service }) })];
  if (options.hostPerVersion) {
    for (const version of options.versions) {
      creations.push(core.createNamespacedService({ namespace, body: serviceObject(`${service}-${version}`, { app: service, version }) }));
    }
  }
  for (const version of options.workloadVersions ?? options.versions) {
    const selector = { app: service, version };
    creations.push(
      apps.createNamespacedDeployment({
        namespace,
        body: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: `${service}-${version}`, labels: selector },
          spec: {
            replicas: options.replicas ?? 1,
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: { ...selector, ...options.podLabels?.[version] } },
              // kwok runs no container: any image will do.
              spec: { containers: [{ name: service, image: `example.com/${service}:${version}`, ports: [{ containerPort: SERVICE_PORT }] }] },
            },
          },
        },
      }),
    );
  }
  await Promise.all(creations);
}

/** The pods of one version (labels app and version). */
export async function versionPods(kc: KubeConfig, namespace: string, service: string, version: string): Promise<V1Pod[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `app=${service},version=${version}` });
  return list.items;
}

/** Sets a pod's Ready and ContainersReady conditions, as a kubelet would after its readiness probe. */
export async function setPodReady(kc: KubeConfig, namespace: string, podName: string, ready: boolean): Promise<void> {
  const now = new Date().toISOString();
  const status = ready ? "True" : "False";
  const conditions = ["Ready", "ContainersReady"].map((type) => ({ type, status, lastTransitionTime: now, ...(ready ? {} : { reason: "ContainersNotReady" }) }));
  await kc.makeApiClient(CoreV1Api).patchNamespacedPodStatus({ name: podName, namespace, body: { status: { conditions } } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch));
}

/** Scales a version's Deployment (0 removes its pods and so its endpoints). */
export async function scaleVersion(kc: KubeConfig, namespace: string, service: string, version: string, replicas: number): Promise<void> {
  await kc
    .makeApiClient(AppsV1Api)
    .patchNamespacedDeploymentScale({ name: `${service}-${version}`, namespace, body: { spec: { replicas } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

/** A Service's endpoints as its EndpointSlices list them, with the pod behind each. */
export interface ServiceEndpoint {
  ip: string;
  ready: boolean;
  pod: string | undefined;
}

export async function serviceEndpoints(kc: KubeConfig, namespace: string, serviceName: string): Promise<ServiceEndpoint[]> {
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${serviceName}` });
  return slices.items.flatMap((slice) =>
    (slice.endpoints ?? []).map((endpoint) => ({
      ip: endpoint.addresses[0] ?? "",
      // The API says a missing `ready` means ready.
      ready: endpoint.conditions?.ready !== false,
      pod: endpoint.targetRef?.kind === "Pod" ? endpoint.targetRef.name : undefined,
    })),
  );
}

/** The ready endpoints of a Service, optionally only those of pods whose names `podNames` holds. */
export async function readyEndpoints(kc: KubeConfig, namespace: string, serviceName: string, podNames?: ReadonlySet<string>): Promise<ServiceEndpoint[]> {
  const endpoints = await serviceEndpoints(kc, namespace, serviceName);
  return endpoints.filter((e) => e.ready && (podNames === undefined || (e.pod !== undefined && podNames.has(e.pod))));
}

/**
 * Waits until `version` of `service` has `count` (default 1) ready endpoints in the Service that
 * routes to it: `<service>-<version>` with `hostPerVersion`, else `<service>` (its pods only).
 */
export async function waitForReadyEndpoints(
  kc: KubeConfig,
  namespace: string,
  service: string,
  version: string,
  options: { count?: number; hostPerVersion?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const count = options.count ?? 1;
  await waitUntil(
    `${count} ready endpoint(s) of ${namespace}/${service} ${version}`,
    async () => {
      if (options.hostPerVersion) return (await readyEndpoints(kc, namespace, `${service}-${version}`)).length >= count;
      const pods = new Set((await versionPods(kc, namespace, service, version)).flatMap((pod) => (pod.metadata?.name ? [pod.metadata.name] : [])));
      return (await readyEndpoints(kc, namespace, service, pods)).length >= count;
    },
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 50 },
  );
}
