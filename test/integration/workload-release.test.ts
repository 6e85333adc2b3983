/**
 * The one-commit release (spec.workload): committing a version makes its Deployment, waits for its
 * pods to be ready before any traffic moves, shifts the weights, promotes, and deletes the old
 * version after scaleDownDelay. Real Deployments, ReplicaSets, Pods and EndpointSlices (KWOK).
 */
import { AppsV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { readyEndpoints, startSlackReceiver, versionPods, waitUntil, type SlackReceiver } from "../env/index.js";
import { createWorld, type World } from "./release-harness.js";
import { kubeConfig } from "./services.js";

let world: World | undefined;
let slack: SlackReceiver | undefined;
afterEach(async () => {
  await world?.stop();
  await slack?.stop();
  world = undefined;
  slack = undefined;
});

const WORKLOAD = [
  "  progressDeadline: 1m",
  "  workload:",
  "    replicas: 2",
  "    scaleDownDelay: 3s",
  "    template:",
  "      metadata:",
  "        labels: { app: reviews, version: '{{ version }}' }",
  "      spec:",
  "        containers:",
  "          - name: reviews",
  "            image: 'example.com/reviews:{{ version }}'",
].join("\n");

async function deployment(namespace: string, name: string): Promise<{ replicas: number; manager: string[] } | undefined> {
  try {
    const d = await kubeConfig().makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name });
    return { replicas: d.spec?.replicas ?? 0, manager: (d.metadata?.managedFields ?? []).map((f) => f.manager ?? "") };
  } catch {
    return undefined;
  }
}

describe("workloads from the Rollout", () => {
  it("releases from one commit: the Deployment is made, its pods are ready before traffic moves, and the old version goes after the delay", async () => {
    world = await createWorld({ workloads: { workloadVersions: [] } }); // the Service, no Deployments: Tideway makes them
    const w = world;
    const kc = kubeConfig();
    await w.release("v1", { steps: ["- setWeight: 50", "- pause: 2s"], analysis: WORKLOAD });
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    expect(await deployment(w.namespace, "reviews-v1")).toMatchObject({ replicas: 2, manager: expect.arrayContaining(["tideway"]) });
    await waitUntil("v1's pods ready", async () => (await readyEndpoints(kc, w.namespace, "reviews")).length === 2, { timeoutMs: 20_000 });

    // Until Tideway made v1's pods, callers got 503s (no Deployment yet); from here on, none once
    // the simulator (which polls readiness) has seen them ready.
    let failedBefore = JSON.stringify(w.mesh.snapshot().sourceFailures);
    await waitUntil(
      "the mesh simulator serving v1",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const now = JSON.stringify(w.mesh.snapshot().sourceFailures);
        const settled = now === failedBefore;
        failedBefore = now;
        return settled;
      },
      { timeoutMs: 20_000 },
    );
    await w.release("v2", { steps: ["- setWeight: 50", "- pause: 2s"], analysis: WORKLOAD });
    // Every time the canary has weight, it has ready pods behind it.
    let sawWeight = false;
    await waitUntil(
      "v2 promoted",
      async () => {
        const weights = await w.weights();
        if ((weights.v2 ?? 0) > 0 && (weights.v2 ?? 0) < 100) {
          const pods = new Set((await versionPods(kc, w.namespace, "reviews", "v2")).map((p) => p.metadata?.name ?? ""));
          expect((await readyEndpoints(kc, w.namespace, "reviews", pods)).length).toBeGreaterThanOrEqual(1);
          sawWeight = true;
        }
        return (await w.status())?.stableVersion === "v2";
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(sawWeight).toBe(true);
    expect(await deployment(w.namespace, "reviews-v2")).toMatchObject({ replicas: 2 });
    await w.waitForWeights((weights) => weights.v2 === 100, 10_000); // status leads, the mesh follows
    const status = await w.status();
    expect(status?.retiring).toEqual([expect.objectContaining({ version: "v1", delete: true })]);
    await waitUntil("reviews-v1 deleted after scaleDownDelay", async () => (await deployment(w.namespace, "reviews-v1")) === undefined, { timeoutMs: 20_000 });
    expect((await w.status())?.retiring).toBeUndefined();
    expect(JSON.stringify(w.mesh.snapshot().sourceFailures)).toBe(failedBefore); // no caller saw a 503 during the release
  });

  it("ends the release of a version whose image cannot be pulled, with the pod and container named in status and Slack, and keeps the failed Deployment at 0", async () => {
    slack = await startSlackReceiver();
    world = await createWorld({ workloads: { workloadVersions: [] }, controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
    const w = world;
    await w.release("v1", { steps: ["- setWeight: 50", "- pause: 2s"], analysis: WORKLOAD });
    await w.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    // The v2 commit's pods carry the label the test env's KWOK stages turn into ImagePullBackOff.
    await w.release("v2", { steps: ["- setWeight: 50", "- pause: 2s"], analysis: WORKLOAD.replace("labels: { app: reviews,", "labels: { 'tideway.test/fail': image, app: reviews,") });
    const status = await w.waitForStatus((s) => s.phase === "RolledBack", 40_000);
    expect(status.history.at(-1)?.reason).toMatch(/^v2 cannot run: pod reviews-v2-[a-z0-9-]+: container reviews (ImagePullBackOff|ErrImagePull)/);
    await w.waitForWeights((weights) => weights.v1 === 100, 10_000);
    await waitUntil("Slack told of the rollback", async () => slack!.posts.some((p) => JSON.stringify(p.body).includes("cannot run")), { timeoutMs: 10_000 });
    await waitUntil("the failed canary scaled to 0 after the delay, and kept", async () => (await deployment(w.namespace, "reviews-v2"))?.replicas === 0, { timeoutMs: 20_000 });
  });
});
