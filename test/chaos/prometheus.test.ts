/**
 * Prometheus goes away mid-release. The release is never promoted while it is gone: past the
 * error limit it pauses with the canary's weight held. Once Prometheus is back and the release is
 * resumed, it goes on to its promotion, every position written once and every step told once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSlackReceiver } from "../env/index.js";
import { createWorld, GUARD_OFF } from "../integration/release-harness.js";
import { kubeConfig, services } from "../integration/services.js";
import { eventCounts, expectAnnouncedOnce, expectPositions, releasePositions, releaseTexts, slackTexts, watchInvariants } from "./invariants.js";
import { prometheusOutage } from "./prometheus-outage.js";

const STEPS = ["- setWeight: 20", "- pause: 6s", "- setWeight: 60", "- pause: 4s"];
const ERROR_LIMIT = 1;
const ANALYSIS = [
  "  analysis:",
  "    interval: 2s",
  "    minRequests: 5",
  `    errorLimit: ${ERROR_LIMIT}`,
  "    metrics:",
  "      - name: success-rate",
  "        min: 0.95",
  `    ${GUARD_OFF}`,
].join("\n");
const HELD_MS = 10_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("Prometheus stopped mid-release", () => {
  it("pauses the release with its weight held, and it is promoted after Prometheus returns", async () => {
    const prometheus = await prometheusOutage(services().prometheusUrl);
    cleanups.push(() => prometheus.close());
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({ controllerArgs: ["--prometheus-url", prometheus.url], controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
    cleanups.push(() => world.stop());
    await world.release("v1", { analysis: "" });
    const first = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const invariants = watchInvariants(world, kubeConfig());
    cleanups.push(() => invariants.stop());

    await world.release("v2", { steps: STEPS, analysis: ANALYSIS });
    await world.waitForStatus((s) => s.release?.version === "v2" && s.release.stepIndex === 1 && s.release.trafficApplied);
    await prometheus.down();
    const downAt = Date.now();
    await world.waitForStatus((s) => s.phase === "Paused" && s.release?.pauseReason === "error", 60_000);
    const pausedAfter = Date.now() - downAt;
    // Still down: held where it paused, whatever the pause step's clock says.
    await new Promise((resolve) => setTimeout(resolve, HELD_MS));
    expect(await world.status()).toMatchObject({ phase: "Paused", canaryVersion: "v2", release: { stepIndex: 1, canaryWeight: 20 } });
    expect(await world.weights()).toEqual({ v1: 80, v2: 20 });

    await prometheus.up();
    const upAt = Date.now();
    await world.rollouts.patchMetadata(world.namespace, "reviews", { annotations: { "tideway.io/resume": "true" } });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    const promotedAfter = Date.now() - upAt;
    await world.waitForWeights((w) => w.v2 === 100 && Object.keys(w).length === 1);
    const texts = await slackTexts(slack, "reviews v2 promoted");
    await invariants.stop();
    const { observations, bad } = invariants.weights();
    const errors = texts.filter((t) => t.startsWith("reviews v2: analysis error"));
    console.log(
      `[chaos prometheus] paused ${(pausedAfter / 1000).toFixed(1)} s after Prometheus went down (${errors.length} analysis errors told), held ${((upAt - downAt) / 1000).toFixed(1)} s, promoted ${(promotedAfter / 1000).toFixed(1)} s after it came back and the resume; ${observations} weight samples`,
    );

    expect(bad).toEqual([]);
    expect(errors.length).toBeGreaterThanOrEqual(ERROR_LIMIT + 1);
    expectPositions(invariants.positions(), [`Healthy v1 #${first.releaseCount}`, ...releasePositions(first.releaseCount + 1, "v2", 4, { promoted: true })]);
    const [started, step1, step3, promoted] = releaseTexts("v2", "v1", "promoted");
    expectAnnouncedOnce(
      texts.filter((t) => !errors.includes(t)),
      ["reviews: v1 adopted as stable", started ?? "", step1 ?? "", "reviews v2: paused", "reviews v2: resumed", step3 ?? "", promoted ?? ""],
    );
    const events = await eventCounts(kubeConfig(), world.namespace);
    expect({ Started: events.Started, Paused: events.Paused, Resumed: events.Resumed, Promoted: events.Promoted }).toEqual({ Started: 1, Paused: 1, Resumed: 1, Promoted: 1 });
  }, 180_000);
});
