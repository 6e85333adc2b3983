/**
 * Releases against versions that really run (issue 13): real Deployments, ReplicaSets, Pods and
 * EndpointSlices from kube-controller-manager, kube-scheduler and a KWOK node; the mesh simulator
 * reaches only versions with ready endpoints and counts the 503s callers would see.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { BAD_POD_LABELS, scaleVersion, setPodReady, versionPods, waitUntil } from "../env/index.js";
import { createWorld, FAST_ANALYSIS, type World } from "./release-harness.js";
import { kubeConfig } from "./services.js";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

/** Samples the canary's weight in the VirtualService until `done`, returning the largest seen. */
async function largestWeightUntil(w: World, version: string, done: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  let largest = 0;
  await waitUntil(
    `release of ${version} to end`,
    async () => {
      largest = Math.max(largest, (await w.weights())[version] ?? 0);
      return done();
    },
    { timeoutMs, intervalMs: 100 },
  );
  return largest;
}

async function eventReasons(namespace: string): Promise<string[]> {
  const events = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return events.items.map((e) => e.reason ?? "");
}

describe("releases gated on readiness", () => {
  it("never gives weight to a canary with no pods, and rolls it back at the progress deadline, naming what it waited for", async () => {
    world = await createWorld({ workloads: { workloadVersions: ["v1"] } });
    const w = world;
    await w.release("v1");
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    await w.release("v2", { steps: ["- setWeight: 20", "- pause: 2s"], analysis: "  progressDeadline: 12s" });
    const waiting = await w.waitForStatus((s) => s.release?.waitingFor !== undefined);
    expect(waiting.release?.waitingFor).toBe("v2: 0/0 pods ready");
    expect(waiting.message).toBe("v2 at 0%, step 1/2: waiting for v2: 0/0 pods ready");
    const largest = await largestWeightUntil(w, "v2", async () => (await w.status())?.phase === "RolledBack", 40_000);
    expect(largest).toBe(0);
    const status = await w.status();
    expect(status?.history.at(-1)).toMatchObject({ version: "v2", outcome: "rolled-back", reason: "progress deadline 12s passed: waited for v2: 0/0 pods ready" });
    expect(await w.weights()).toEqual({ v1: 100 });
    expect(w.mesh.snapshot().sourceFailures).toEqual({}); // no caller ever saw a 503
    expect(await eventReasons(w.namespace)).toEqual(expect.arrayContaining(["Waiting", "RolledBack"]));
  });

  it("waits for pods that become ready late, then proceeds and promotes", async () => {
    world = await createWorld({ workloads: { podLabels: { v2: BAD_POD_LABELS.neverReady } } });
    const w = world;
    await w.release("v1");
    await w.waitForStatus((s) => s.phase === "Healthy");
    await w.release("v2", { steps: ["- setWeight: 50", "- pause: 2s"], analysis: "  progressDeadline: 5m" });
    await w.waitForStatus((s) => s.release?.waitingFor === "v2: 0/1 pod ready");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await w.weights()).v2 ?? 0).toBe(0);
    const [pod] = await versionPods(kubeConfig(), w.namespace, "reviews", "v2");
    const readyAt = Date.now();
    await setPodReady(kubeConfig(), w.namespace, pod?.metadata?.name ?? "", true);
    await w.waitForWeights((weights) => weights.v2 === 50, 10_000);
    console.log(`[readiness] pod ready -> 50% to v2 in ${Date.now() - readyAt} ms`);
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 30_000);
    expect(w.mesh.snapshot().sourceFailures).toEqual({});
  });

  it("sends a canary whose pods die mid-release back to stable within a guard interval, and stable serves throughout", async () => {
    world = await createWorld({ rate: 100 });
    const w = world;
    await w.release("v1");
    await w.waitForStatus((s) => s.phase === "Healthy");
    await w.release("v2", { steps: ["- setWeight: 30", "- pause: 5m"], analysis: FAST_ANALYSIS.replace("guard: { enabled: false }", "guard: { interval: 15s }") });
    await w.waitForWeights((weights) => weights.v2 === 30, 20_000);
    const killedAt = Date.now();
    await scaleVersion(kubeConfig(), w.namespace, "reviews", "v2", 0);
    await w.waitForWeights((weights) => weights.v1 === 100, 15_000);
    console.log(`[readiness] canary pods gone -> 100% stable in ${Date.now() - killedAt} ms`);
    const status = await w.waitForStatus((s) => s.phase === "RolledBack");
    expect(status.history.at(-1)?.reason).toMatch(/^v2 has no ready pods \(0\/\d\) while it takes 30% of traffic$/);
    expect(w.mesh.snapshot().sourceFailures.v1).toBeUndefined(); // the stable never failed a request
  });
});
