/** Shared setup for benchmarks: real services, a namespace with Istio objects, a git remote. */
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { startServices, type Services } from "../test/env/index.js";

export const VS = { group: "networking.istio.io", version: "v1", plural: "virtualservices" } as const;
export const DR = { group: "networking.istio.io", version: "v1", plural: "destinationrules" } as const;

export async function benchServices(): Promise<Services> {
  const crd = fileURLToPath(new URL("../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url));
  return startServices({ extraCrdFiles: [crd], log: (line) => console.error(`[services] ${line}`) });
}

export async function meshObjects(kc: KubeConfig, namespace: string, service: string, create = true): Promise<void> {
  if (create)
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } })
      .catch(() => undefined);
  const objects = kc.makeApiClient(CustomObjectsApi);
  await objects.createNamespacedCustomObject({
    ...DR,
    namespace,
    body: {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: service },
      spec: { host: service, subsets: Array.from({ length: 30 }, (_, i) => ({ name: `v${i + 1}`, labels: { version: `v${i + 1}` } })) },
    },
  });
  await objects.createNamespacedCustomObject({
    ...VS,
    namespace,
    body: {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: service },
      spec: { hosts: [service], http: [{ name: "primary", route: [{ destination: { host: service, subset: "v1" } }] }] },
    },
  });
}

export async function canaryWeight(kc: KubeConfig, namespace: string, service: string, version: string): Promise<number> {
  const vs = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...VS, namespace, name: service })) as {
    spec: { http: { route: { destination: { subset?: string }; weight?: number }[] }[] };
  };
  return vs.spec.http[0]?.route.find((r) => r.destination.subset === version)?.weight ?? 0;
}

export function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `min ${sorted[0]} ms, median ${median} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
