/**
 * Two replicas on one Redis through several releases (promoted, rolled back, promoted...), while
 * one or the other is SIGKILLed every few seconds and started again: at least 20 kills. Every
 * release still ends as its canary deserves, each status position is written once, the weights are
 * integers summing to 100 at every sample, and Slack and the Events tell each step once.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ControllerProcess } from "../env/controller-process.js";
import { startRedis, startSlackReceiver } from "../env/index.js";
import { createWorld, FAST_ANALYSIS } from "../integration/release-harness.js";
import { kubeConfig } from "../integration/services.js";
import { deliveryTrace, eventCounts, expectAnnouncedOnce, expectPositions, releasePositions, releaseTexts, slackTexts, spread, watchInvariants, withoutRedeliveries } from "./invariants.js";

const MIN_KILLS = 20;
const STEPS = 4; // FAST_STEPS
/** The mesh has subsets v1..v5; v3 fails its checks (half its requests fail) and is released once, the others in turn. */
const BAD = "v3";
const versionOf = (n: number): string => (n < 4 ? ["v2", BAD, "v4", "v5"][n] : ["v2", "v4", "v5"][n % 3]) ?? "v2";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe("replicas SIGKILLed mid-release", () => {
  it(`promote good canaries and roll back bad ones through at least ${MIN_KILLS} kills`, async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const slack = await startSlackReceiver();
    cleanups.push(() => slack.stop());
    const world = await createWorld({
      redisUrl: redis.url,
      controllerEnv: { TIDEWAY_SLACK_WEBHOOK_URL: slack.webhookUrl },
      behaviour: { [BAD]: { errorRate: 0.5, latencyMs: 20 } },
    });
    cleanups.push(() => world.stop());
    // replicas[0] is the world's own controller (restarted through it); replicas[1] is a second one.
    let other: ControllerProcess = await world.startReplica();
    cleanups.push(() => other.stop());
    // Every process started, killed ones too: their delivery log lines explain a repeated Slack text.
    const processes: ControllerProcess[] = [world.controller, other];
    await world.release("v1", { analysis: "" });
    await world.waitForStatus((s) => s.phase === "Healthy" && s.stableVersion === "v1");
    const invariants = watchInvariants(world, kubeConfig());
    cleanups.push(() => invariants.stop());

    // The killer: pick a replica, SIGKILL it, start it again, breathe 0.2-0.8 s, repeat.
    const restarts: number[] = [];
    const kills: number[] = [];
    const killer = (async () => {
      while (restarts.length < MIN_KILLS) {
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 600));
        const killedAt = Date.now();
        kills.push(killedAt);
        if (Math.random() < 0.5) {
          await world.restartController({ kill: true });
          processes.push(world.controller);
        } else {
          await other.kill();
          other = await world.startReplica();
          processes.push(other);
        }
        restarts.push(Date.now() - killedAt);
      }
    })();

    const first = await world.status();
    const expectedPositions = [`Healthy v1 #${first?.releaseCount ?? 0}`];
    const expectedTexts = ["reviews: v1 adopted as stable"];
    const durations: string[] = [];
    let stable = "v1";
    let released = 0;
    // Releases one after another (at least four: promoted, rolled back, promoted, promoted) for as long as the killer kills.
    for (let n = 0; n < 4 || restarts.length < MIN_KILLS; n += 1) {
      const version = versionOf(n);
      const startedAt = Date.now();
      const id = (first?.releaseCount ?? 0) + released + 1;
      await world.release(version, { analysis: FAST_ANALYSIS });
      released += 1;
      if (version === BAD) {
        const end = await world.waitForStatus((s) => s.phase === "RolledBack" && s.releaseCount === id, 120_000);
        expect(end.stableVersion).toBe(stable);
        expectedPositions.push(...releasePositions(id, version, STEPS, { rolledBackTo: stable }));
        expectedTexts.push(...releaseTexts(version, stable, "rolled back"));
      } else {
        await world.waitForStatus((s) => s.phase === "Healthy" && s.releaseCount === id, 120_000);
        expect((await world.status())?.stableVersion).toBe(version);
        expectedPositions.push(...releasePositions(id, version, STEPS, { promoted: true }));
        expectedTexts.push(...releaseTexts(version, stable, "promoted"));
        stable = version;
      }
      durations.push(`${version} ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    }
    await killer;
    await world.waitForWeights((w) => w[stable] === 100 && Object.keys(w).length === 1);
    await slackTexts(slack, `reviews ${stable} promoted: 100% of traffic, now stable`);
    const { texts, redelivered } = withoutRedeliveries(slack, kills);
    await invariants.stop();
    const { observations, bad } = invariants.weights();
    console.log(
      `[chaos kills] ${restarts.length} SIGKILLs over ${released} releases (${durations.join(", ")}); killed replica back (healthy) after min/median/max ${spread(restarts)}; ${observations} weight samples; Slack messages sent again after their sender was killed: ${redelivered.length ? redelivered.join(" | ") : "none"}`,
    );

    const trace = () => `[chaos kills] Slack, kills and deliveries in time order:\n${deliveryTrace(slack, kills, processes)}`;
    if (redelivered.length > 0 || process.env["CHAOS_TRACE"]) console.log(trace());

    expect(restarts.length).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(bad).toEqual([]);
    expectPositions(invariants.positions(), expectedPositions);
    try {
      expectAnnouncedOnce(texts, expectedTexts);
    } catch (error) {
      console.log(trace()); // a lost or doubled message explains itself
      throw error;
    }
    const events = await eventCounts(kubeConfig(), world.namespace);
    expect({ Started: events.Started, Promoted: events.Promoted, RolledBack: events.RolledBack }).toEqual({ Started: released, Promoted: released - 1, RolledBack: 1 });
  }, 300_000);
});
