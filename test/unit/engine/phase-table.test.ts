import { describe, expect, it } from "vitest";
import { decide, desiredTraffic, type Observation } from "../../../src/rollout/engine.js";
import { RolloutStatusSchema, type Phase, type RolloutStatus } from "../../../src/rollout/status.js";
import { makeRollout, result, Simulation, withVersion } from "./harness.js";

/** Every phase a Rollout can be in, reached the way users reach it. */
const STATES: Record<string, () => Simulation> = {
  unseen: () => new Simulation(makeRollout()),
  Healthy: () => new Simulation(rollout()).start(),
  Progressing: () => releasing(),
  "Paused (gate)": () => {
    const sim = releasing();
    sim.passUntilDone();
    return sim;
  },
  "Paused (by hand)": () => {
    const sim = releasing();
    sim.command("pause");
    return sim;
  },
  RolledBack: () => {
    const sim = releasing();
    sim.check("fail");
    return sim;
  },
  Aborted: () => {
    const sim = releasing();
    sim.command("abort");
    return sim;
  },
};

function rollout() {
  return makeRollout({ steps: [{ setWeight: 10 }, { pause: "1m" }, { pause: {} }, { setWeight: 50 }, { pause: "1m" }] });
}

function releasing(): Simulation {
  const sim = new Simulation(rollout()).start();
  sim.release("v2");
  return sim;
}

type Event = (sim: Simulation) => { observation: Observation; version?: string };

function analysis(outcome: "pass" | "fail" | "inconclusive" | "error"): Event {
  return (sim) => {
    const release = sim.status?.release;
    const scheduledFor = release?.nextAnalysisAt ? Date.parse(release.nextAnalysisAt) : sim.now;
    sim.now = Math.max(sim.now, scheduledFor);
    return { observation: { type: "analysis", releaseId: release?.id ?? 1, stepIndex: release?.stepIndex ?? 1, scheduledFor, results: [result(outcome)] } };
  };
}

const command =
  (name: "abort" | "promote" | "pause" | "resume" | "retry", value = ""): Event =>
  () => ({
    observation: { type: "command", command: name, value, source: "annotation", user: "alice" },
  });

const traffic =
  (applied: boolean): Event =>
  (sim) => {
    const wanted = sim.status ? desiredTraffic(sim.rollout, sim.status) : { stableVersion: "v1", canaryWeight: 0 };
    return { observation: applied ? { type: "traffic", traffic: wanted, applied: true } : { type: "traffic", traffic: wanted, applied: false, error: "503" } };
  };

const EVENTS: Record<string, Event> = {
  "spec synced, same version": () => ({ observation: { type: "specChanged" } }),
  "spec synced, new version v9": () => ({ observation: { type: "specChanged" }, version: "v9" }),
  tick: () => ({ observation: { type: "tick" } }),
  "analysis pass": analysis("pass"),
  "analysis fail": analysis("fail"),
  "analysis inconclusive": analysis("inconclusive"),
  "analysis error": analysis("error"),
  abort: command("abort", "bad latency"),
  "promote step": command("promote", "step"),
  "promote full": command("promote", "full"),
  pause: command("pause"),
  resume: command("resume"),
  retry: command("retry"),
  "traffic applied": traffic(true),
  "traffic failed": traffic(false),
  removed: () => ({ observation: { type: "removed" } }),
};

type Outcome = Phase | "unmanaged";
const H = "Healthy",
  P = "Progressing",
  Z = "Paused",
  R = "RolledBack",
  A = "Aborted",
  U = "unmanaged";

/** The phase after each event, for each starting state (columns in STATES order). */
const EXPECTED: Record<string, Outcome[]> = {
  //                                unseen Healthy Progr. Gate Manual RolledBack Aborted
  "spec synced, same version": [H, H, P, Z, Z, R, A],
  "spec synced, new version v9": [H, P, P, P, P, P, P],
  tick: [H, H, P, Z, Z, R, A],
  "analysis pass": [H, H, P, Z, Z, R, A],
  "analysis fail": [H, H, R, R, R, R, A],
  "analysis inconclusive": [H, H, P, Z, Z, R, A],
  "analysis error": [H, H, P, Z, Z, R, A],
  abort: [H, H, A, A, A, R, A],
  "promote step": [H, H, Z, P, Z, R, A], // step 2 ends; step 3 is a manual gate
  "promote full": [H, H, H, H, H, R, A],
  pause: [H, H, Z, Z, Z, R, A],
  resume: [H, H, P, P, P, R, A],
  retry: [H, H, P, Z, Z, P, P],
  "traffic applied": [H, H, P, Z, Z, R, A],
  "traffic failed": [H, H, P, Z, Z, R, A],
  removed: [U, U, U, U, U, U, U],
};

const cases = Object.entries(EXPECTED).flatMap(([event, outcomes]) => Object.keys(STATES).map((state, column) => ({ state, event, expected: outcomes[column] as Outcome })));

describe("every phase x every observation", () => {
  it.each(cases)("$state + $event -> $expected", ({ state, event, expected }) => {
    const sim = STATES[state]!();
    const { observation, version } = EVENTS[event]!(sim);
    const rollout = version ? withVersion(sim.rollout, version) : sim.rollout;
    const before = JSON.stringify(sim.status);
    const decision = decide(rollout, sim.status, observation, sim.now);

    expect(JSON.stringify(sim.status)).toBe(before);
    expect(decision).toEqual(decide(rollout, sim.status, observation, sim.now));
    if (expected === "unmanaged") {
      expect(decision.status).toBeUndefined();
      const inFlight = sim.status?.release !== undefined;
      expect(decision.effects.some((e) => e.type === "setTraffic" && e.traffic.canaryVersion === undefined)).toBe(inFlight);
      return;
    }
    const status = decision.status as RolloutStatus;
    expect(status.phase).toBe(expected);
    expect(RolloutStatusSchema.safeParse(status).success).toBe(true);
    const wanted = desiredTraffic(rollout, status);
    expect(Number.isInteger(wanted.canaryWeight) && wanted.canaryWeight >= 0 && wanted.canaryWeight <= 100).toBe(true);
    if (expected !== "Progressing" && expected !== "Paused") expect(wanted).toEqual({ stableVersion: status.stableVersion, canaryWeight: 0 });
  });
});
