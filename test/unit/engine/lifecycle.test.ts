import { describe, expect, it } from "vitest";
import { decide, type TrafficFailureCause } from "../../../src/rollout/engine.js";
import { desiredTraffic } from "../../../src/rollout/traffic.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

describe("a newer version committed mid-release", () => {
  it("supersedes it: traffic goes back to stable, then the newest version starts from step 0", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("pass");
    sim.release("v3");
    expect(sim.trafficWrites().slice(-3)).toEqual([
      { stable: "v1", weight: 0, header: false },
      { stable: "v1", canary: "v3", weight: 0, header: false },
      { stable: "v1", canary: "v3", weight: 10, header: false },
    ]);
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryVersion: "v3", releaseCount: 2, step: "2/4" });
    expect(sim.status?.history.at(-1)).toMatchObject({ version: "v2", outcome: "superseded", reason: "superseded by v3" });
    expect(sim.notifications().slice(-3)).toEqual(["superseded", "started", "step"]);
  });

  it("is stopped when git goes back to the stable version", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.release("v1");
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v1", canaryWeight: 0 });
    expect(sim.status?.history.at(-1)).toMatchObject({ version: "v2", outcome: "reverted" });
  });
});

describe("after a failed release", () => {
  it("a new version starts a new release", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("fail");
    sim.release("v3");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryVersion: "v3", releaseCount: 2 });
  });

  it("going back to the stable version in git makes the Rollout healthy again", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("fail");
    sim.release("v1");
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v1" });
    expect(sim.status?.canaryVersion).toBeUndefined();
  });
});

describe("a Rollout removed from git", () => {
  it("sends an in-flight canary back to stable and stops being managed", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const decision = decide(sim.rollout, sim.status, { type: "removed" }, sim.now);
    expect(decision.status).toBeUndefined();
    expect(decision.effects).toContainEqual({ type: "setTraffic", traffic: { stableVersion: "v1", canaryWeight: 0 } });
    expect(decision.effects).toContainEqual({ type: "notify", event: expect.objectContaining({ kind: "removed" }) });
  });

  it("changes no traffic when nothing was in flight", () => {
    const sim = new Simulation(makeRollout()).start();
    expect(decide(sim.rollout, sim.status, { type: "removed" }, sim.now)).toEqual({ status: undefined, effects: [] });
    expect(decide(sim.rollout, undefined, { type: "removed" }, sim.now)).toEqual({ status: undefined, effects: [] });
  });
});

describe("traffic that fails to apply", () => {
  it("is reported on a condition once, retried, and the step waits for it", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.trafficFails = true;
    sim.release("v2");
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "False", message: "connection refused" });
    expect(sim.decisions.at(-1)?.requeueAt).toBe(sim.now + 5_000);
    sim.advanceBy(5_000);
    expect(sim.notifications().filter((k) => k === "traffic-failed")).toHaveLength(1);
    expect(sim.status?.release).toMatchObject({ stepIndex: 0, trafficApplied: false });
    sim.trafficFails = false;
    sim.advanceBy(5_000);
    expect(sim.status?.release).toMatchObject({ stepIndex: 1, canaryWeight: 10, trafficApplied: true });
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "True", message: "90% to v1, 10% to v2" });
  });

  it("tells a failure repeated with the same cause once, a new cause again, and a failure after recovery again", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const wanted = () => desiredTraffic(sim.rollout, sim.status!);
    const fail = (cause: TrafficFailureCause | undefined, error: string) => sim.observe({ type: "traffic", traffic: wanted(), applied: false, error, ...(cause ? { cause } : {}) });
    const told = () => sim.notifications().filter((k) => k === "traffic-failed").length;
    fail("NoDestinationRule", "no DestinationRule for host reviews in namespace default: subsets v1, v2 are needed");
    fail("NoDestinationRule", "no DestinationRule for host reviews in namespace default: subsets v1, v2 are needed (again)");
    expect(told()).toBe(1);
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ status: "False", reason: "NoDestinationRule" });
    fail(undefined, "connection refused");
    expect(told()).toBe(2);
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")?.reason).toBe("ApplyFailed");
    sim.observe({ type: "traffic", traffic: wanted(), applied: true });
    fail(undefined, "connection refused");
    expect(told()).toBe(3);
    const last = sim.decisions.at(-1)?.effects.find((e) => e.type === "notify");
    expect(last).toMatchObject({ event: { kind: "traffic-failed", details: { cause: "ApplyFailed" } } });
  });

  it("ignores a report about traffic status no longer wants", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const before = structuredClone(sim.status);
    sim.observe({ type: "traffic", traffic: { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 50 }, applied: false, error: "old" });
    expect(sim.status).toEqual(before);
  });
});

describe("a restart, or a flushed Redis", () => {
  it("re-asks for the pending analysis run on the next tick", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const pending = Date.parse(sim.status!.release!.nextAnalysisAt!);
    const decision = decide(sim.rollout, sim.status, { type: "tick" }, pending + 60_000);
    expect(decision.effects).toContainEqual(expect.objectContaining({ type: "runAnalysis", at: pending, releaseId: 1, stepIndex: 1 }));
  });

  it("re-asks for traffic that was never confirmed", () => {
    const sim = new Simulation(makeRollout()).start();
    const status = decide(sim.rollout.spec.version === "v1" ? { ...sim.rollout, spec: { ...sim.rollout.spec, version: "v2" } } : sim.rollout, sim.status, { type: "specChanged" }, T0).status;
    const rollout = { ...sim.rollout, spec: { ...sim.rollout.spec, version: "v2" } };
    const decision = decide(rollout, status, { type: "tick" }, T0 + 1_000);
    expect(decision.effects).toContainEqual({ type: "setTraffic", traffic: { stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 } });
  });

  it("changes nothing when called twice with the same tick", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const once = decide(sim.rollout, sim.status, { type: "tick" }, sim.now + 1_000);
    const twice = decide(sim.rollout, once.status, { type: "tick" }, sim.now + 1_000);
    expect(twice.status).toEqual(once.status);
  });
});
