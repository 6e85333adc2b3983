/**
 * Redis loses everything mid-release (FLUSHALL), and later is gone for 30 s and comes back empty.
 * Status in the API server is the memory: each release goes on to the end it deserves, with the
 * weights held while Redis is away, every position written once and every step told once.
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { startRedis, startSlackReceiver, type RedisEnvironment } from "../env/index.js";
import { createWorld, FAST_ANALYSIS } from "../integration/release-harness.js";
import { kubeConfig } from "../integration/services.js";
import { eventCounts, expectAnnouncedOnce, expectPositions, releasePositions, releaseTexts, slackTexts, watchInvariants } from "./invariants.js";

const STEPS = ["- setWeight: 20", "- pause: 8s", "- setWeight: 60", "- pause: 2s"];
const OUTAGE_MS = 30_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("Redis flushed, then stopped for 30 s, mid-release", () => {
  it("holds the weights while it is away, and each release is promoted once it is back", async () => {
    let redis: RedisEnvironment = await startRedis();
    cleanups.push(() => redis.stop());
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({ redisUrl: redis.url, controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl } });
    cleanups.push(() => world.stop());
    await world.release("v1", { analysis: "" });
    const first = await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const invariants = watchInvariants(world, kubeConfig());
    cleanups.push(() => invariants.stop());
    const atPause = (version: string) => world.waitForStatus((s) => s.release?.version === version && s.release.stepIndex === 1 && s.release.trafficApplied, 60_000);

    await world.release("v2", { steps: STEPS, analysis: FAST_ANALYSIS });
    await atPause("v2");
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
    const flushedAt = Date.now();
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    const afterFlush = Date.now() - flushedAt;

    await world.release("v3", { steps: STEPS, analysis: FAST_ANALYSIS });
    await atPause("v3");
    const { port } = redis;
    await redis.stop();
    const stoppedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    // Nothing moved on without Redis: no promotion, the canary's 20% held (the sampler checks every weight).
    expect(await world.status()).toMatchObject({ canaryVersion: "v3", release: { stepIndex: 1 } });
    expect(await world.weights()).toEqual({ v2: 80, v3: 20 });
    redis = await startRedis({ port });
    const backAt = Date.now();
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v3", 90_000);
    const afterOutage = Date.now() - backAt;
    await world.waitForWeights((w) => w.v3 === 100 && Object.keys(w).length === 1);
    const texts = await slackTexts(slack, "reviews v3 promoted");
    await invariants.stop();
    const { observations, bad } = invariants.weights();
    console.log(
      `[chaos redis] promoted ${(afterFlush / 1000).toFixed(1)} s after FLUSHALL (8 s pause left at most); Redis down ${((backAt - stoppedAt) / 1000).toFixed(1)} s, promoted ${(afterOutage / 1000).toFixed(1)} s after it came back; ${observations} weight samples`,
    );

    expect(bad).toEqual([]);
    const id = first.releaseCount;
    expectPositions(invariants.positions(), [`Healthy v1 #${id}`, ...releasePositions(id + 1, "v2", 4, { promoted: true }), ...releasePositions(id + 2, "v3", 4, { promoted: true })]);
    expectAnnouncedOnce(texts, ["reviews: v1 adopted as stable", ...releaseTexts("v2", "v1", "promoted"), ...releaseTexts("v3", "v2", "promoted")]);
    const events = await eventCounts(kubeConfig(), world.namespace);
    expect({ Started: events.Started, Promoted: events.Promoted }).toEqual({ Started: 2, Promoted: 2 });
  }, 240_000);
});
