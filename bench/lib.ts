/** Shared setup for benchmarks: real services, a namespace with Istio objects, a git remote. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { createMesh, startServices, VS, type Services } from "../test/env/index.js";

export { VS } from "../test/env/index.js";

/** `auditLogPath`: the API server logs every request there (bench/api-calls.ts reads it). */
export async function benchServices(options: { auditLogPath?: string } = {}): Promise<Services> {
  const crd = fileURLToPath(new URL("../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url));
  return startServices({ extraCrdFiles: [crd], ...options, log: (line) => console.error(`[services] ${line}`) });
}

/**
 * The service's DestinationRule (subsets v1..v30), VirtualService (all to v1), Service and a
 * Deployment for each of `workloadVersions` (default: v1 and v2), v1 ready. `create`: the namespace too.
 */
export async function meshObjects(kc: KubeConfig, namespace: string, service: string, options: { create?: boolean; workloadVersions?: string[] } = {}): Promise<void> {
  if (options.create ?? true)
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } })
      .catch(() => undefined);
  const versions = Array.from({ length: 30 }, (_, i) => `v${i + 1}`);
  await createMesh(kc, namespace, service, { versions, workloadVersions: options.workloadVersions ?? ["v1", "v2"] });
}

/** v1 .. v<rounds + 1>: the stable and every canary of a benchmark with `rounds` releases. */
export function releasedVersions(rounds: number): string[] {
  return Array.from({ length: rounds + 1 }, (_, i) => `v${i + 1}`);
}

export async function canaryWeight(kc: KubeConfig, namespace: string, service: string, version: string): Promise<number> {
  const vs = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...VS, namespace, name: service })) as {
    spec: { http: { route: { destination: { subset?: string }; weight?: number }[] }[] };
  };
  return vs.spec.http[0]?.route.find((r) => r.destination.subset === version)?.weight ?? 0;
}

/** The value below which `p`% of `values` lie (nearest rank). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `min ${sorted[0]} ms, median ${median} ms, p90 ${percentile(sorted, 90)} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The sum of a metric's series on the controller's /metrics whose labels include `labels`. */
export async function controllerMetric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const [series, value] = line.split(" ");
    if (series === undefined || value === undefined) continue;
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += Number(value);
  }
  return sum;
}

/** Namespaces the scale benchmarks spread their Rollouts over (svc-i lives in scale-<i mod 10>). */
export const SCALE_NAMESPACES = 10;

/** Rollout svc-`index` of the scale benchmarks at `version`: two steps, one always-good check. */
export function scaleRollout(index: number, version: string): string {
  const namespace = `scale-${index % SCALE_NAMESPACES}`;
  return `apiVersion: tideway.io/v1alpha1
kind: Rollout
metadata: { name: svc-${index}, namespace: ${namespace} }
spec:
  service: svc-${index}
  version: ${version}
  trafficRouting: { istio: { virtualService: { name: svc-${index} } } }
  steps:
    - setWeight: 10
    - pause: 10s
    - setWeight: 50
    - pause: 10s
  analysis:
    interval: 5s
    metrics:
      - name: always-good
        query: vector(1)
        min: 0.5
`;
}

/** A process' resident memory, MB. */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}
