import { describe, expect, it } from "vitest";
import type { RolloutSpecInput } from "../../../src/rollout/schema.js";
import type { VersionReadiness } from "../../../src/rollout/status.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

/** The cluster as the reconciler would report it: ready/total endpoints per version. */
function cluster(sim: Simulation, pods: Record<string, [ready: number, total: number] | [ready: number, total: number, failure: string]>): void {
  const readiness: VersionReadiness[] = Object.entries(pods).map(([version, [ready, total, failure]]) => ({ version, ready, total, ...(failure !== undefined ? { failure } : {}) }));
  sim.rollout = { ...sim.rollout, readiness };
}

function release(overrides: Partial<RolloutSpecInput> = {}, pods: Parameters<typeof cluster>[1] = { v1: [3, 3], v2: [0, 3] }): Simulation {
  const sim = new Simulation(makeRollout({ analysis: undefined, steps: [{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }], ...overrides }));
  cluster(sim, pods);
  sim.start();
  sim.release("v2");
  return sim;
}

describe("readiness gating", () => {
  it("holds the first weight while the canary has no ready pod, says so once, and never sends it traffic", () => {
    const sim = release();
    expect(sim.status?.release).toMatchObject({ canaryWeight: 0, waitingFor: "v2: 0/3 pods ready" });
    expect(sim.status?.message).toBe("v2 at 0%, step 1/4: waiting for v2: 0/3 pods ready");
    expect(sim.status?.readiness).toEqual([
      { version: "v1", ready: 3, total: 3 },
      { version: "v2", ready: 0, total: 3 },
    ]);
    sim.advanceBy(5_000);
    sim.advanceBy(5_000);
    expect(sim.notifications().filter((k) => k === "waiting")).toHaveLength(1);
    expect(sim.trafficWrites().every((t) => t.weight === 0)).toBe(true);
    expect(sim.decisions.at(-1)?.requeueAt).toBe(sim.now + 5_000);
  });

  it("moves the weight once enough pods are ready: weight% of the stable's, rounded up", () => {
    const sim = release({}, { v1: [10, 10], v2: [0, 10] });
    cluster(sim, { v1: [10, 10], v2: [1, 10] });
    sim.advanceBy(1_000);
    expect(sim.status?.canaryWeight).toBe(10); // 10% of 10 = 1
    sim.advanceBy(60_000); // the pause is over: 50% needs 5
    expect(sim.status?.release).toMatchObject({ canaryWeight: 10, stepIndex: 2, waitingFor: "v2: 1/10 pods ready, needs 5 for 50% of v1's 10" });
    cluster(sim, { v1: [10, 10], v2: [5, 10] });
    sim.advanceBy(1_000);
    expect(sim.status?.canaryWeight).toBe(50);
    expect(sim.status?.release?.waitingFor).toBeUndefined();
    sim.advanceBy(60_000); // promotion needs as many as the stable has
    expect(sim.status?.phase).toBe("Progressing");
    expect(sim.status?.release?.waitingFor).toBe("v2: 5/10 pods ready, needs 10 for 100% of v1's 10");
    cluster(sim, { v1: [10, 10], v2: [10, 10] });
    sim.advanceBy(1_000);
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
  });

  it("needs one ready pod when the capacity check is off", () => {
    const sim = release({ readiness: { capacity: false } }, { v1: [10, 10], v2: [1, 2] });
    sim.advanceBy(60_000);
    sim.advanceBy(60_000);
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
  });

  it("gates a header route and a promote in full too", () => {
    const sim = release({ steps: [{ setHeaderRoute: { headers: { "x-canary": { exact: "1" } } } }, { pause: {} }] });
    expect(sim.status?.release).toMatchObject({ headerRoute: false, waitingFor: "v2: 0/3 pods ready" });
    sim.command("promote", "full");
    expect(sim.status?.phase).toBe("Progressing");
    expect(sim.status?.commands.at(-1)?.result).toBe("ignored: v2 is not ready for all traffic (v2: 0/3 pods ready, needs 3 for 100% of v1's 3)");
    cluster(sim, { v1: [3, 3], v2: [1, 3] });
    sim.advanceBy(1_000);
    expect(sim.status?.release?.headerRoute).toBe(true);
  });

  it("sends a canary that loses every ready pod back to stable at once, as a failed check", () => {
    const sim = release({}, { v1: [2, 2], v2: [2, 2] });
    expect(sim.status?.canaryWeight).toBe(10);
    cluster(sim, { v1: [2, 2], v2: [0, 2] });
    sim.advanceBy(100);
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("v2 has no ready pods (0/2) while it takes 10% of traffic");
    expect(sim.effects.filter((e) => e.type === "notify" && e.event.kind === "rolled-back").at(-1)).toMatchObject({ event: { details: { failedChecks: 1 } } });
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v1", weight: 0, header: false });
  });

  it("ends the release when the canary's pods cannot run", () => {
    const sim = release({}, { v1: [2, 2], v2: [0, 2, "pod reviews-v2-7d9f-x2: container reviews ImagePullBackOff"] });
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("v2 cannot run: pod reviews-v2-7d9f-x2: container reviews ImagePullBackOff");
  });

  it("warns loudly when a rollback or abort sends traffic to a stable with no ready pod", () => {
    const sim = release({}, { v1: [2, 2], v2: [2, 2] });
    cluster(sim, { v1: [0, 2], v2: [2, 2] });
    sim.advanceBy(100);
    expect(sim.status?.conditions.find((c) => c.type === "StableReady")).toMatchObject({ status: "False", reason: "NoReadyEndpoints" });
    sim.command("abort", "bad idea");
    expect(sim.status?.phase).toBe("Aborted");
    const warning = sim.effects.flatMap((e) => (e.type === "notify" && e.event.kind === "stable-unready" ? [e.event] : []));
    expect(warning).toHaveLength(1);
    expect(warning[0]?.message).toBe("reviews: stable v1 has no ready pods (0/2): 100% of traffic goes to a version that cannot serve");
  });

  it("gates nothing when no readiness source reports (the engine without a cluster)", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined })).start();
    sim.release("v2");
    expect(sim.status?.canaryWeight).toBe(10);
    expect(sim.status?.readiness).toBeUndefined();
    expect(sim.notifications()).not.toContain("waiting");
  });
});

describe("the progress deadline", () => {
  it("rolls back a release that waited for readiness past the deadline, naming what it waited for", () => {
    const sim = release({ progressDeadline: "2m" });
    expect(sim.decisions.at(-1)?.requeueAt).toBeLessThanOrEqual(T0 + 5_000);
    sim.tickAt(T0 + 119_000);
    expect(sim.status?.phase).toBe("Progressing");
    sim.tickAt(T0 + 120_000);
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("progress deadline 2m passed: waited for v2: 0/3 pods ready");
  });

  it("pauses instead when onProgressDeadline is pause, and counts again from a resume", () => {
    const sim = release({ progressDeadline: "2m", onProgressDeadline: "pause" });
    sim.tickAt(T0 + 120_000);
    expect(sim.status?.phase).toBe("Paused");
    expect(sim.status?.release?.pauseReason).toBe("deadline");
    expect(sim.status?.message).toBe("v2 at 0%, step 1/4: paused: progress deadline 2m passed: waited for v2: 0/3 pods ready");
    sim.tickAt(T0 + 600_000);
    expect(sim.status?.phase).toBe("Paused");
    sim.command("resume");
    sim.tickAt(T0 + 600_000 + 119_000);
    expect(sim.status?.phase).toBe("Progressing");
    sim.tickAt(T0 + 600_000 + 120_000);
    expect(sim.status?.phase).toBe("Paused");
  });

  it("bounds traffic that keeps failing to apply", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined, progressDeadline: "1m" })).start();
    sim.trafficFails = true;
    sim.release("v2");
    sim.tickAt(T0 + 60_000);
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("progress deadline 1m passed: traffic not applied: connection refused");
  });

  it("counts a timed pause from its end, and bounds a step whose checks never pass", () => {
    const sim = new Simulation(makeRollout({ progressDeadline: "2m", steps: [{ setWeight: 10 }, { pause: "5m" }] })).start();
    sim.release("v2");
    sim.tickAt(T0 + 6 * 60_000); // 5m pause + 1m: within the deadline, though no check passed
    expect(sim.status?.phase).toBe("Progressing");
    sim.tickAt(T0 + 7 * 60_000);
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("progress deadline 2m passed: no passing check at step 2/2");
  });

  it("never ends a release that waits at a manual gate", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined, progressDeadline: "1m", steps: [{ setWeight: 10 }, { pause: {} }] })).start();
    sim.release("v2");
    sim.tickAt(T0 + 3_600_000);
    expect(sim.status?.phase).toBe("Paused");
    expect(sim.status?.release?.pauseReason).toBe("gate");
  });
});
