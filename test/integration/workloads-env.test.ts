/**
 * The test env runs the real Kubernetes control loops (issue 13): Deployments become ReplicaSets,
 * Pods on a KWOK node and EndpointSlices; pod labels make bad versions; and the mesh simulator,
 * like Envoy, sends nothing to a version without ready endpoints.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { BAD_POD_LABELS, serviceEndpoints, setPodReady, versionPods, waitForReadyEndpoints, waitUntil } from "../env/index.js";
import { startMeshSimulator, type MeshSimulator, type TrafficSnapshot } from "../env/mesh-simulator.js";
import { createMesh } from "./release-harness.js";
import { kubeConfig, uniqueName } from "./services.js";

async function namespaceFor(prefix: string): Promise<{ kc: KubeConfig; namespace: string }> {
  const kc = kubeConfig();
  const namespace = uniqueName(prefix);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  return { kc, namespace };
}

async function onlyPod(kc: KubeConfig, namespace: string, version: string, check: (pod: V1Pod) => boolean): Promise<V1Pod> {
  let pod: V1Pod | undefined;
  await waitUntil(
    `the pod of reviews ${version}`,
    async () => {
      const pods = await versionPods(kc, namespace, "reviews", version);
      pod = pods[0];
      return pods.length === 1 && pod !== undefined && check(pod);
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  return pod as V1Pod;
}

const waiting = (pod: V1Pod) => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
const condition = (pod: V1Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type)?.status;

describe("workloads in the test env", () => {
  it("runs a Deployment's pods and lists them as ready endpoints of the Service", async () => {
    const { kc, namespace } = await namespaceFor("wl");
    const started = performance.now();
    await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2"], replicas: 2 });
    await waitForReadyEndpoints(kc, namespace, "reviews", "v2", { count: 2 });
    console.log(`[measure] Deployment created -> 2 ready endpoints: ${Math.round(performance.now() - started)} ms`);
    const endpoints = await serviceEndpoints(kc, namespace, "reviews");
    expect(endpoints.filter((e) => e.ready)).toHaveLength(4);
    for (const endpoint of endpoints) expect(endpoint.ip).toMatch(/^10\.244\./);
  });

  it("makes bad versions from pod labels: never ready, crash loop, image pull back-off", async () => {
    const { kc, namespace } = await namespaceFor("wl-bad");
    await createMesh(kc, namespace, "reviews", {
      versions: ["v1", "v2", "v3", "v4"],
      podLabels: { v2: BAD_POD_LABELS.neverReady, v3: BAD_POD_LABELS.crashLoop, v4: BAD_POD_LABELS.imagePull },
    });
    const never = await onlyPod(kc, namespace, "v2", (pod) => pod.status?.phase === "Running");
    expect(condition(never, "Ready")).toBe("False");
    const crash = await onlyPod(kc, namespace, "v3", (pod) => waiting(pod) !== undefined);
    expect(waiting(crash)).toBe("CrashLoopBackOff");
    expect(crash.status?.containerStatuses?.[0]?.restartCount).toBeGreaterThan(0);
    expect(condition(crash, "Ready")).toBe("False");
    const image = await onlyPod(kc, namespace, "v4", (pod) => waiting(pod) !== undefined);
    expect(waiting(image)).toBe("ImagePullBackOff");
    expect(image.status?.phase).toBe("Pending");
    expect(condition(image, "Ready")).toBe("False");

    // A little later, still: no stage makes them ready, and the Service lists only v1 as ready.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const endpoints = await serviceEndpoints(kc, namespace, "reviews");
    const bad = new Set([never, crash, image].map((pod) => pod.metadata?.name));
    expect(endpoints.filter((e) => e.ready && bad.has(e.pod))).toEqual([]);
    expect(endpoints.filter((e) => e.ready)).toHaveLength(1);
  });

  it("follows setPodReady: the endpoint goes not ready, then ready again", async () => {
    const { kc, namespace } = await namespaceFor("wl-flip");
    await createMesh(kc, namespace, "reviews", { versions: ["v1"], hostPerVersion: true });
    const pod = await onlyPod(kc, namespace, "v1", (p) => condition(p, "Ready") === "True");
    const name = pod.metadata?.name ?? "";
    const readyOf = async () => (await serviceEndpoints(kc, namespace, "reviews-v1")).find((e) => e.pod === name)?.ready;
    await setPodReady(kc, namespace, name, false);
    await waitUntil("the endpoint not ready", async () => (await readyOf()) === false, { timeoutMs: 10_000, intervalMs: 50 });
    await setPodReady(kc, namespace, name, true);
    await waitUntil("the endpoint ready again", async () => (await readyOf()) === true, { timeoutMs: 10_000, intervalMs: 50 });
  });
});

describe("the mesh simulator and endpoints", () => {
  let simulator: MeshSimulator | undefined;
  afterEach(async () => {
    await simulator?.stop();
    simulator = undefined;
  });

  const half = (service: string, host: boolean) => [
    {
      name: "primary",
      route: ["v1", "v2"].map((v) => ({ destination: host ? { host: `${service}-${v}` } : { host: service, subset: v }, weight: 50 })),
    },
  ];
  const since = (before: TrafficSnapshot, after: TrafficSnapshot, version: string) => ({
    served: (after.versions[version]?.requests ?? 0) - (before.versions[version]?.requests ?? 0),
    failed: (after.sourceFailures[version]?.UH ?? 0) - (before.sourceFailures[version]?.UH ?? 0),
  });

  for (const hostPerVersion of [false, true]) {
    it(`sends nothing to a version with no ready endpoint, reports 503 UH at the caller, and serves it once it is ready (${hostPerVersion ? "host" : "subset"} mode)`, async () => {
      const { kc, namespace } = await namespaceFor("wl-mesh");
      await createMesh(kc, namespace, "reviews", { versions: ["v1", "v2"], http: half("reviews", hostPerVersion), hostPerVersion, podLabels: { v2: BAD_POD_LABELS.neverReady } });
      simulator = await startMeshSimulator({ kubeConfig: kc, namespace, service: "reviews", rate: 200, routes: ["primary"], ...(hostPerVersion ? { versionFrom: "host" as const } : {}) });
      const sim = simulator;
      const start = sim.snapshot();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const first = since(start, sim.snapshot(), "v2");
      expect(first.served).toBe(0);
      expect(first.failed).toBeGreaterThan(50);
      expect(since(start, sim.snapshot(), "v1").served).toBeGreaterThan(50);

      const [pod] = await versionPods(kc, namespace, "reviews", "v2");
      await setPodReady(kc, namespace, pod?.metadata?.name ?? "", true);
      await waitForReadyEndpoints(kc, namespace, "reviews", "v2", { hostPerVersion });
      const readyAt = performance.now();
      await waitUntil("traffic to v2", async () => (sim.snapshot().versions.v2?.requests ?? 0) > 0, { timeoutMs: 5_000, intervalMs: 20 });
      console.log(`[measure] endpoint ready -> simulator serves v2: ${Math.round(performance.now() - readyAt)} ms`);
      const recovered = sim.snapshot();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const second = since(recovered, sim.snapshot(), "v2");
      expect(second.failed).toBe(0);
      expect(second.served).toBeGreaterThan(50);
    });
  }
});
