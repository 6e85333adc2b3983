import { describe, expect, it } from "vitest";
import { desiredTraffic } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation } from "./harness.js";

const steps = [{ setMirrorRoute: { percentage: 20 } }, { pause: "30s" }, { setWeight: 10 }, { pause: "30s" }];
const mirrors = (sim: Simulation) => sim.effects.flatMap((e) => (e.type === "setTraffic" ? [e.traffic.mirror?.percentage ?? 0] : []));

describe("mirroring (setMirrorRoute)", () => {
  it("mirrors from its step on, keeps mirroring at the next weight, and stops on promotion", () => {
    const sim = new Simulation(makeRollout({ steps })).start();
    sim.release("v2");
    expect(desiredTraffic(sim.rollout, sim.status!)).toMatchObject({ canaryVersion: "v2", canaryWeight: 0, mirror: { percentage: 20 } });
    expect(sim.status?.release?.mirrorRoute).toBe(true);
    expect(sim.notifications()).toContain("step");
    sim.passUntilDone();
    expect(sim.status?.phase).toBe("Healthy");
    expect(mirrors(sim)).toEqual([0, 0, 20, 20, 0]);
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v2", weight: 0, header: false });
  });

  it.each([
    { ending: "rollback", end: (sim: Simulation) => sim.check("fail"), phase: "RolledBack" },
    { ending: "abort", end: (sim: Simulation) => sim.command("abort", "bad"), phase: "Aborted" },
  ])("stops mirroring on $ending", ({ end, phase }) => {
    const sim = new Simulation(makeRollout({ steps })).start();
    sim.release("v2");
    expect(desiredTraffic(sim.rollout, sim.status!).mirror).toEqual({ percentage: 20 });
    end(sim);
    expect(sim.status?.phase).toBe(phase);
    expect(desiredTraffic(sim.rollout, sim.status!).mirror).toBeUndefined();
    expect(mirrors(sim).at(-1)).toBe(0);
  });

  it("carries the header match of a mirror that copies only matching requests", () => {
    const sim = new Simulation(makeRollout({ steps: [{ setMirrorRoute: { percentage: 50, match: { headers: { "x-shadow": { exact: "1" } } } } }, { pause: "30s" }] })).start();
    sim.release("v2");
    expect(desiredTraffic(sim.rollout, sim.status!).mirror).toEqual({ percentage: 50, headers: { "x-shadow": { exact: "1" } } });
  });

  it("does not start the guard on mirrored traffic alone: no user request reaches the canary", () => {
    const sim = new Simulation(makeRollout({ steps, analysis: { interval: "15s", metrics: [{ name: "success-rate", min: 0.99 }] } })).start();
    sim.release("v2");
    expect(sim.status?.release?.mirrorRoute).toBe(true);
    expect(sim.effects.some((e) => e.type === "runGuard")).toBe(false);
  });
});
