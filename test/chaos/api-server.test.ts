/**
 * The API server restarted mid-release, twice, with etcd kept (as in a control-plane upgrade):
 * once while the canary holds 20% in a pause, once at 60%. The controller's watches and writes come
 * back on their own; the release goes on to its promotion with every status position written once,
 * weights that are integers summing to 100 at every sample, and Slack and the Events telling each
 * step once. The API server here is the test's own (the shared one serves other files meanwhile).
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSlackReceiver, startWorkloads, waitUntil } from "../env/index.js";
import { startKube } from "../env/kube.js";
import { createWorld, FAST_ANALYSIS } from "../integration/release-harness.js";
import { eventCounts, expectAnnouncedOnce, expectPositions, releasePositions, releaseTexts, slackTexts, watchInvariants } from "./invariants.js";

const ROLLOUT_CRD = fileURLToPath(new URL("../../charts/tideway/crds/rollouts.tideway.io.yaml", import.meta.url));
const STEPS = ["- setWeight: 20", "- pause: 10s", "- setWeight: 60", "- pause: 10s"];
/** How long the API server stays down each time. */
const DOWN_MS = 3_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("the API server restarted mid-release", () => {
  it("twice, and the release is promoted with nothing lost or doubled", async () => {
    const kube = await startKube({ extraCrdFiles: [ROLLOUT_CRD] });
    cleanups.push(() => kube.stop());
    const workloads = await startWorkloads(kube);
    cleanups.push(() => workloads.stop());
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({ kube, controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
    cleanups.push(() => world.stop());

    await world.release("v1", { analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1", 90_000);
    const first = await world.status();
    const invariants = watchInvariants(world, kube.kubeConfig());
    cleanups.push(() => invariants.stop());

    const id = (first?.releaseCount ?? 0) + 1;
    const startedAt = Date.now();
    await world.release("v2", { steps: STEPS, analysis: FAST_ANALYSIS });
    const restarts: string[] = [];
    const restart = async (label: string) => {
      const at = Date.now();
      await kube.restartApiServer(DOWN_MS);
      restarts.push(`${label}: back in ${((Date.now() - at) / 1000).toFixed(1)} s`);
    };
    // In the pause at 20%: nothing to write, but the watches break under the controller.
    await world.waitForStatus((s) => s.release?.id === id && s.release.stepIndex === 1 && s.release.trafficApplied, 90_000);
    await restart("at 20%");
    // At 60%, as soon as its traffic is asked for: the write may be cut halfway.
    await world.waitForStatus((s) => s.release?.id === id && s.release.stepIndex >= 2, 90_000);
    await restart("at 60%");
    const backAt = Date.now();
    await world.waitForStatus((s) => s.phase === "Healthy" && s.releaseCount === id, 120_000);
    await world.waitForWeights((w) => w.v2 === 100 && Object.keys(w).length === 1);
    const promotedAfter = Date.now() - backAt;
    const texts = await slackTexts(slack, "reviews v2 promoted: 100% of traffic, now stable");
    await invariants.stop();
    const { observations, bad } = invariants.weights();
    console.log(
      `[chaos api-server] ${restarts.join("; ")} (${DOWN_MS / 1000} s down each); promoted ${(promotedAfter / 1000).toFixed(1)} s after the second came back (at most 10 s of pause left), ${((Date.now() - startedAt) / 1000).toFixed(1)} s from the commit; ${observations} weight samples`,
    );

    expect(bad).toEqual([]);
    expectPositions(invariants.positions(), [`Healthy v1 #${first?.releaseCount ?? 0}`, ...releasePositions(id, "v2", 4, { promoted: true })]);
    expectAnnouncedOnce(texts, ["reviews: v1 adopted as stable", ...releaseTexts("v2", "v1", "promoted")]);
    const events = await eventCounts(kube.kubeConfig(), world.namespace);
    expect({ Started: events.Started, Promoted: events.Promoted }).toEqual({ Started: 1, Promoted: 1 });
    // Ready again: its Rollout watch reconnected (readiness says so; the watch backs off up to 30 s
    // between attempts, and two restarts in a row push it there) and Redis is up.
    const readyAt = Date.now();
    await waitUntil("the controller ready again", async () => (await fetch(`${world.controller.url}/readyz`)).status === 200, { timeoutMs: 60_000, intervalMs: 250 });
    console.log(`[chaos api-server] controller ready ${((Date.now() - readyAt) / 1000).toFixed(1)} s after the end of the release`);
  }, 300_000);
});
