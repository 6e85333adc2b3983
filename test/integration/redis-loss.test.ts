/**
 * Redis flushed mid-release: every pending wake-up (the end of a pause, the git poll) was in it.
 * The controller notices within seconds and rebuilds them from status, instead of waiting for its
 * periodic resync (10 minutes here, so the test fails if that is what moves the release on).
 */
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { startRedis } from "../env/index.js";
import { createWorld } from "./release-harness.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("a Redis that loses its data mid-release", () => {
  it("is noticed, and the release and the git poll carry on from status", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const world = await createWorld({ redisUrl: redis.url, controllerArgs: ["--resync-interval", "10m"] });
    cleanups.push(() => world.stop());
    await world.release("v1", { analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");

    await world.release("v2", { analysis: "", steps: ["- setWeight: 20", "- pause: 8s", "- setWeight: 60", "- pause: 1s"] });
    await world.waitForStatus((s) => s.release?.version === "v2" && s.release.stepIndex === 1 && s.release.trafficApplied);
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();

    // The pause's end lived in Redis; only a rebuilt schedule can promote within this minute.
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    expect(world.controller.output.some((l) => l.includes("Redis lost Tideway's keys"))).toBe(true);
    // The git poll was a scheduler in Redis too.
    await world.release("v3", { analysis: "", steps: ["- setWeight: 20", "- pause: {}"] });
    await world.waitForStatus((s) => s.release?.version === "v3", 30_000);
  });
});
