import { describe, expect, it } from "vitest";
import { desiredTraffic, type Effect } from "../../../src/rollout/engine.js";
import { guardOf } from "../../../src/rollout/model.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

const analysis = (guard?: Record<string, unknown>) => ({ interval: "1m", metrics: [{ name: "success-rate", min: 0.99 }], ...(guard ? { guard } : {}) });
const guardRuns = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { type: "runGuard" }> => e.type === "runGuard");

function canary(guard?: Record<string, unknown>, steps: unknown[] = [{ setWeight: 10 }, { pause: "10m" }, { setWeight: 50 }, { pause: "10m" }]): Simulation {
  const sim = new Simulation(makeRollout({ analysis: analysis(guard), steps: steps as never })).start();
  sim.release("v2");
  return sim;
}

describe("the guard", () => {
  it("is on by default with analysis: every 15s, 20% errors, 20 requests", () => {
    expect(guardOf(makeRollout({ analysis: analysis() }).spec)).toEqual({ enabled: true, interval: "15s", intervalMs: 15_000, errorRatio: 0.2, minRequests: 20 });
    expect(guardOf(makeRollout({ analysis: undefined }).spec)).toBeUndefined();
    expect(guardOf(makeRollout({ analysis: analysis({ enabled: false }) }).spec)).toBeUndefined();
  });

  it("asks for its first look on the next grid time once the canary is given traffic, and not before", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ interval: "2s" }) })).start();
    sim.now = T0 + 500;
    expect(guardRuns(sim.effects)).toEqual([]);
    sim.release("v2");
    expect(sim.status?.canaryWeight).toBe(10);
    expect(guardRuns(sim.effects)).toContainEqual({ type: "runGuard", at: T0 + 2_000, releaseId: 1, version: "v2" });
  });

  it("keeps watching while a weight change fails to apply: the canary still has its old traffic", () => {
    const sim = canary({ interval: "1s" }, [{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }]);
    sim.trafficFails = true;
    sim.check("pass"); // the pause is over and checked: on to 50%, which the mesh refuses
    expect(sim.status?.release).toMatchObject({ canaryWeight: 50, trafficApplied: false });
    sim.now += 1_000;
    const decision = sim.observe({ type: "guard", releaseId: 1, requests: 100, errors: 40 });
    expect(sim.status?.phase).toBe("RolledBack");
    expect(decision.effects).toContainEqual({ type: "setTraffic", traffic: { stableVersion: "v1", canaryWeight: 0 } });
  });

  it("rolls back at once, before any analysis run, when the error ratio reaches the limit", () => {
    const sim = canary({ interval: "1s" });
    const before = sim.status?.release?.checks;
    sim.now += 1_000;
    sim.observe({ type: "guard", releaseId: 1, requests: 200, errors: 62 });
    expect(sim.status).toMatchObject({ phase: "RolledBack", stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 });
    expect(desiredTraffic(sim.rollout, sim.status!)).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    expect(sim.status?.history.at(-1)).toMatchObject({ outcome: "rolled-back", reason: "guard: 31% of 200 canary requests failed (limit 20%)" });
    expect(sim.status?.message).toBe("v2 rolled back: guard: 31% of 200 canary requests failed (limit 20%); 100% to v1");
    expect(before).toEqual({ passed: 0, failed: 0, inconclusive: 0, errored: 0 });
    expect(sim.notifications().at(-1)).toBe("rolled-back");
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v1", weight: 0, header: false });
  });

  it("acts at exactly the limit, not below it", () => {
    const below = canary();
    below.observe({ type: "guard", releaseId: 1, requests: 100, errors: 19 });
    expect(below.status?.phase).toBe("Progressing");
    const at = canary();
    at.observe({ type: "guard", releaseId: 1, requests: 100, errors: 20 });
    expect(at.status?.phase).toBe("RolledBack");
  });

  it("does nothing with too few requests, no data or a Prometheus error, and keeps looking", () => {
    const sim = canary({ interval: "5s", minRequests: 50 });
    for (const observation of [
      { type: "guard", releaseId: 1, requests: 49, errors: 49 },
      { type: "guard", releaseId: 1, requests: 0, errors: 0 },
      { type: "guard", releaseId: 1, error: "prometheus: timeout" },
    ] as const) {
      sim.now += 5_000;
      const decision = sim.observe(observation);
      expect(sim.status?.phase).toBe("Progressing");
      expect(guardRuns(decision.effects)).toEqual([{ type: "runGuard", at: Math.floor(sim.now / 5_000) * 5_000 + 5_000, releaseId: 1, version: "v2" }]);
    }
    expect(sim.status?.release?.checks).toEqual({ passed: 0, failed: 0, inconclusive: 0, errored: 0 });
    expect(sim.notifications().filter((n) => n.startsWith("check-"))).toEqual([]);
  });

  it("never promotes: healthy readings do not count as passing checks", () => {
    const sim = canary({ interval: "1s" });
    for (let i = 0; i < 20; i++) {
      sim.now += 1_000;
      sim.observe({ type: "guard", releaseId: 1, requests: 500, errors: 0 });
    }
    expect(sim.status?.release).toMatchObject({ stepIndex: 1, canaryWeight: 10, stepChecks: { passed: 0 } });
  });

  it("ignores a reading for another release", () => {
    const sim = canary();
    sim.observe({ type: "guard", releaseId: 7, requests: 500, errors: 500 });
    expect(sim.status?.phase).toBe("Progressing");
  });

  it("watches a canary that only gets the header route, and one paused at a manual gate", () => {
    const header = canary({}, [{ setHeaderRoute: { headers: { "x-canary": { exact: "1" } } } }, { pause: "10m" }]);
    expect(header.status?.release).toMatchObject({ canaryWeight: 0, headerRoute: true });
    header.observe({ type: "guard", releaseId: 1, requests: 40, errors: 20 });
    expect(header.status?.phase).toBe("RolledBack");
    const gate = canary({}, [{ setWeight: 30 }, { pause: {} }]);
    expect(gate.status?.phase).toBe("Paused");
    gate.observe({ type: "guard", releaseId: 1, requests: 40, errors: 20 });
    expect(gate.status?.phase).toBe("RolledBack");
  });

  it("does not watch a canary that takes no traffic, and stops asking once the release ends", () => {
    const idle = canary({}, [{ setWeight: 0 }, { pause: "10m" }]);
    expect(guardRuns(idle.effects)).toEqual([]);
    idle.observe({ type: "guard", releaseId: 1, requests: 40, errors: 40 });
    expect(idle.status?.phase).toBe("Progressing");

    const ended = canary();
    ended.command("abort", "by hand");
    const after = ended.advanceBy(60_000);
    expect(guardRuns(after.effects)).toEqual([]);
    ended.observe({ type: "guard", releaseId: 1, requests: 40, errors: 40 });
    expect(ended.status?.history.at(-1)?.outcome).toBe("aborted");
  });

  it("can be turned off", () => {
    const sim = canary({ enabled: false });
    expect(guardRuns(sim.effects)).toEqual([]);
    sim.observe({ type: "guard", releaseId: 1, requests: 500, errors: 500 });
    expect(sim.status?.phase).toBe("Progressing");
  });

  it("asks for the same next look from a resync, so a flushed queue gets it back exactly once", () => {
    const sim = canary({ interval: "10s" });
    sim.now = T0 + 12_345;
    const first = guardRuns(sim.observe({ type: "tick" }).effects);
    sim.now = T0 + 19_999;
    const again = guardRuns(sim.observe({ type: "tick" }).effects);
    expect(first).toEqual([{ type: "runGuard", at: T0 + 20_000, releaseId: 1, version: "v2" }]);
    expect(again).toEqual(first);
  });
});
