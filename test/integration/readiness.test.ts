/**
 * KubeReadiness against the real API server, with real Deployments, ReplicaSets, Pods and
 * EndpointSlices (kube-controller-manager, kube-scheduler and a KWOK node in the shared env): it
 * counts each version's ready endpoints, names pods that cannot run, and follows readiness changes.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { KubeReadiness } from "../../src/kube/readiness.js";
import type { Rollout } from "../../src/rollout/model.js";
import { RolloutSpecSchema } from "../../src/rollout/schema.js";
import { BAD_POD_LABELS, createMesh, setPodReady, versionPods, waitForReadyEndpoints, waitUntil } from "../env/index.js";
import { kubeConfig, uniqueName } from "./services.js";

function rollout(namespace: string, host?: string): Rollout {
  const spec = RolloutSpecSchema.parse({
    service: "reviews",
    version: "v1",
    trafficRouting: { istio: { virtualService: { name: "reviews" }, ...(host ? { host } : {}) } },
    steps: [{ setWeight: 50 }],
  });
  return { name: "reviews", namespace, spec };
}

async function namespace(): Promise<string> {
  const name = uniqueName("ready");
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}

describe("readiness from EndpointSlices and pods", () => {
  it("counts each subset's ready endpoints, names a crash-looping version, and follows a pod losing readiness", async () => {
    const kc = kubeConfig();
    const ns = await namespace();
    await createMesh(kc, ns, "reviews", { versions: ["v1", "v2", "v3", "v4"], workloadVersions: ["v1", "v2", "v3"], replicas: 2, podLabels: { v3: BAD_POD_LABELS.crashLoop } });
    for (const version of ["v1", "v2"]) await waitForReadyEndpoints(kc, ns, "reviews", version, { count: 2 });
    const source = new KubeReadiness(kc);
    let seen = await source.read(rollout(ns), ["v1", "v2", "v3", "v4"]);
    await waitUntil("v3's pods crash-looping", async () => (seen = await source.read(rollout(ns), ["v1", "v2", "v3", "v4"]))[2]?.failure !== undefined, { timeoutMs: 20_000 });
    expect(seen.map(({ version, ready, total }) => ({ version, ready, total }))).toEqual([
      { version: "v1", ready: 2, total: 2 },
      { version: "v2", ready: 2, total: 2 },
      { version: "v3", ready: 0, total: 2 },
      { version: "v4", ready: 0, total: 0 },
    ]);
    expect(seen[2]?.failure).toMatch(/^pod reviews-v3-[a-z0-9-]+: container \S+ CrashLoopBackOff/);
    expect(seen[0]?.failure).toBeUndefined();

    const [pod] = await versionPods(kc, ns, "reviews", "v2");
    await setPodReady(kc, ns, pod?.metadata?.name ?? "", false);
    await waitUntil("v2 down to one ready endpoint", async () => (await source.read(rollout(ns), ["v2"]))[0]?.ready === 1, { timeoutMs: 10_000 });
    expect((await source.read(rollout(ns), ["v2"]))[0]).toEqual({ version: "v2", ready: 1, total: 2 });
  });

  it("reads a version's own Service in host mode, and names a version whose image cannot be pulled", async () => {
    const kc = kubeConfig();
    const ns = await namespace();
    await createMesh(kc, ns, "reviews", { versions: ["v1", "v2"], hostPerVersion: true, podLabels: { v2: BAD_POD_LABELS.imagePull } });
    const source = new KubeReadiness(kc);
    const host = rollout(ns, "reviews-{{ version }}");
    let seen = await source.read(host, ["v1", "v2", "v9"]);
    await waitUntil("v2's image pull failing", async () => (seen = await source.read(host, ["v1", "v2", "v9"]))[1]?.failure !== undefined, { timeoutMs: 20_000 });
    expect(seen[0]).toEqual({ version: "v1", ready: 1, total: 1 });
    expect(seen[1]).toMatchObject({ version: "v2", ready: 0, total: 1 });
    expect(seen[1]?.failure).toMatch(/ImagePullBackOff|ErrImagePull/);
    expect(seen[2]).toEqual({ version: "v9", ready: 0, total: 0 }); // no Service reviews-v9
  });
});
