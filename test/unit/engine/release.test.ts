import { describe, expect, it } from "vitest";
import { decide, desiredTraffic } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

describe("a Rollout seen for the first time", () => {
  it("adopts its version as stable with 100% of traffic and no canary", () => {
    const sim = new Simulation(makeRollout()).start();
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v1", canaryWeight: 0, step: "", releaseCount: 0 });
    expect(sim.status?.canaryVersion).toBeUndefined();
    expect(sim.trafficWrites()).toEqual([{ stable: "v1", weight: 0, header: false }]);
    expect(sim.notifications()).toEqual(["adopted"]);
  });

  it("adopts the same version when the VirtualService already routes to it", () => {
    const sim = new Simulation(makeRollout());
    sim.observe({ type: "specChanged", liveVersion: "v1" });
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v1", releaseCount: 0 });
  });

  it("keeps what the VirtualService routes to as stable and releases the version in git from it as a canary", () => {
    const sim = new Simulation(makeRollout({ version: "v3" }));
    sim.observe({ type: "specChanged", liveVersion: "v2" });
    expect(sim.status).toMatchObject({ phase: "Progressing", stableVersion: "v2", canaryVersion: "v3", canaryWeight: 10 });
    expect(sim.trafficWrites()[0]).toEqual({ stable: "v2", weight: 0, header: false });
    expect(sim.notifications().slice(0, 2)).toEqual(["adopted", "started"]);
    const adopted = sim.effects.find((e) => e.type === "notify" && e.event.kind === "adopted");
    expect(adopted?.type === "notify" && adopted.event.message).toBe("reviews: v2 adopted as stable, as the VirtualService already routes to it; v3 is released from it as a canary");
    sim.passUntilDone();
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v3" });
  });

  it("takes no live version into account once it has status", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.rollout = { ...sim.rollout, spec: { ...sim.rollout.spec, version: "v2" } };
    sim.observe({ type: "specChanged", liveVersion: "v9" });
    expect(sim.status).toMatchObject({ stableVersion: "v1", canaryVersion: "v2" });
  });
});

describe("a healthy release", () => {
  it("goes back to stable first, then shifts 10%, bakes, shifts 50%, bakes and promotes", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryVersion: "v2", canaryWeight: 10, step: "2/4" });
    sim.passUntilDone();
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2", canaryWeight: 0 });
    expect(sim.status?.canaryVersion).toBeUndefined();
    expect(sim.trafficWrites()).toEqual([
      { stable: "v1", weight: 0, header: false },
      { stable: "v1", canary: "v2", weight: 0, header: false },
      { stable: "v1", canary: "v2", weight: 10, header: false },
      { stable: "v1", canary: "v2", weight: 50, header: false },
      { stable: "v2", weight: 0, header: false },
    ]);
    expect(sim.status?.history).toEqual([expect.objectContaining({ id: 1, version: "v2", fromVersion: "v1", outcome: "promoted" })]);
    expect(sim.notifications()).toEqual(["adopted", "started", "step", "step", "promoted"]);
  });

  it("does not leave a pause before its duration, however many checks pass", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("pass");
    sim.check("pass");
    sim.check("pass");
    expect(sim.status?.release).toMatchObject({ stepIndex: 1, canaryWeight: 10 });
    sim.check("pass"); // 60s after the pause began
    expect(sim.status?.release).toMatchObject({ stepIndex: 3, canaryWeight: 50 });
  });

  it("never leaves a pause without a passing check, even long after its duration", () => {
    const sim = new Simulation(makeRollout({ analysis: { interval: "15s", inconclusiveLimit: 100, metrics: [{ name: "success-rate", min: 0.99 }] } })).start();
    sim.release("v2");
    for (let i = 0; i < 20; i++) sim.check("inconclusive");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryWeight: 10, step: "2/4" });
    sim.check("pass");
    expect(sim.status?.release).toMatchObject({ stepIndex: 3, canaryWeight: 50 });
  });

  it("runs a final check before promoting when the last step is a weight", () => {
    const sim = new Simulation(makeRollout({ steps: [{ setWeight: 20 }] })).start();
    sim.release("v2");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryWeight: 20, step: "1/1" });
    expect(sim.status?.release?.stepIndex).toBe(1);
    sim.check("pass");
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
  });

  it("promotes on timers alone when the Rollout has no analysis", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined })).start();
    sim.release("v2");
    sim.advanceBy(59_000);
    expect(sim.status?.canaryWeight).toBe(10);
    sim.advanceBy(1_000);
    expect(sim.status?.canaryWeight).toBe(50);
    expect(sim.decisions.at(-1)?.requeueAt).toBe(sim.now + 60_000);
    sim.advanceBy(60_000);
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
    expect(sim.effects.some((e) => e.type === "runAnalysis")).toBe(false);
  });

  it("asks to be woken when a pause ends", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined })).start();
    sim.release("v2");
    expect(sim.decisions.at(-1)?.requeueAt).toBe(T0 + 60_000);
  });
});

describe("header routes", () => {
  const steps = [{ setWeight: 10 }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }, { pause: "30s" }, { setWeight: 50 }, { pause: "30s" }];

  it("sends matching requests to the canary from their step on, and removes the route on promotion", () => {
    const sim = new Simulation(makeRollout({ steps })).start();
    sim.release("v2");
    const traffic = desiredTraffic(sim.rollout, sim.status!);
    expect(traffic.headerRoute).toEqual({ name: "reviews-canary-header", headers: { "x-canary": { exact: "true" } } });
    sim.passUntilDone();
    expect(sim.status?.phase).toBe("Healthy");
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v2", weight: 0, header: false });
  });

  it("removes the route on rollback", () => {
    const sim = new Simulation(makeRollout({ steps })).start();
    sim.release("v2");
    sim.check("fail");
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v1", weight: 0, header: false });
  });
});

describe("purity", () => {
  it("gives the same decision for the same input and never changes its input", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const frozen = JSON.stringify(sim.status);
    const observation = { type: "tick" } as const;
    const a = decide(sim.rollout, sim.status, observation, T0 + 5_000);
    const b = decide(sim.rollout, sim.status, observation, T0 + 5_000);
    expect(a).toEqual(b);
    expect(JSON.stringify(sim.status)).toBe(frozen);
  });
});
