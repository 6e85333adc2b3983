/**
 * Redis behind Sentinel (a primary, a replica, three Sentinels on loopback): the primary is
 * SIGKILLed mid-release, the Sentinels promote the replica, and the controller follows them. The
 * release goes on to its promotion, every step told once in Slack and as one Event, and the
 * weights are integers summing to 100 throughout.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { startRedisSentinel, startSlackReceiver, waitUntil } from "../env/index.js";
import { createWorld } from "./release-harness.js";
import { kubeConfig } from "./services.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const STEPS = ["- setWeight: 20", "- pause: 6s", "- setWeight: 60", "- pause: 2s"];

describe("Redis behind Sentinel", () => {
  it("loses its primary mid-release, and the release goes on to promotion with nothing lost or doubled", async () => {
    const password = "s3ntinel-Pa55";
    const redis = await startRedisSentinel({ password });
    cleanups.push(() => redis.stop());
    const dir = mkdtempSync(join(tmpdir(), "tideway-redis-password-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const passwordFile = join(dir, "redis-password");
    writeFileSync(passwordFile, `${password}\n`);
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({
      redisArgs: ["--redis-sentinels", redis.sentinels, "--redis-sentinel-name", redis.name, "--redis-password-file", passwordFile],
      controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl },
    });
    cleanups.push(() => world.stop());

    await world.release("v1", { analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const badWeights: Record<string, number>[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const weights = await world.weights().catch(() => undefined);
        const values = Object.values(weights ?? {});
        if (weights && (values.some((w) => !Number.isInteger(w)) || values.reduce((a, b) => a + b, 0) !== 100)) badWeights.push(weights);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    await world.release("v2", { analysis: "", steps: STEPS });
    await world.waitForStatus((s) => s.release?.version === "v2" && s.release.stepIndex === 1 && s.release.trafficApplied);
    const killedAt = Date.now();
    const { killed, promoted } = await redis.killPrimary();
    const failedOverMs = Date.now() - killedAt;
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v2", 60_000);
    // Status first, then traffic: the weights follow it.
    await world.waitForWeights((w) => w.v2 === 100 && Object.keys(w).length === 1);
    const promotedMs = Date.now() - killedAt;
    sampling = false;
    await sampler;
    console.log(`[sentinel] primary ${killed} killed; Sentinels promoted ${promoted} after ${failedOverMs} ms; release promoted ${promotedMs} ms after the kill (6 s of pause were left)`);

    expect(badWeights).toEqual([]);
    const expected = [
      "reviews: v1 adopted as stable, 100% of traffic",
      "reviews v2: canary started (stable v1)",
      "reviews v2: step 1/4, 20% to canary",
      "reviews v2: step 3/4, 60% to canary",
      "reviews v2 promoted: 100% of traffic, now stable (was v1)",
    ];
    const texts = () => slack.delivered().map((p) => (p.body as { text: string }).text);
    await waitUntil("the promotion in Slack", async () => texts().includes(expected.at(-1) ?? ""), { timeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // time for a stray duplicate to arrive
    expect(texts()).toEqual(expected);
    const events = (await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: world.namespace })).items;
    for (const reason of ["Started", "Promoted"])
      expect(
        events.filter((e) => e.reason === reason),
        reason,
      ).toHaveLength(1);
    expect(world.controller.output.join("\n")).not.toContain(password);
  });
});
