import { describe, expect, it } from "vitest";
import { desiredTraffic } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation } from "./harness.js";

const analysis = (extra: Record<string, unknown> = {}) => ({ interval: "15s", metrics: [{ name: "success-rate", min: 0.99 }], ...extra });

describe("failed checks", () => {
  it("roll back at the first failure by default (failureLimit 0), 100% to stable", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("fail");
    expect(sim.status).toMatchObject({ phase: "RolledBack", stableVersion: "v1", canaryVersion: "v2", canaryWeight: 0 });
    expect(desiredTraffic(sim.rollout, sim.status!)).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    expect(sim.status?.message).toBe("v2 rolled back: success-rate 0.5 < 0.99; 100% to v1");
    expect(sim.status?.history.at(-1)).toMatchObject({ version: "v2", outcome: "rolled-back", reason: "success-rate 0.5 < 0.99" });
  });

  it("are tolerated up to failureLimit, and the next one rolls back", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ failureLimit: 2 }) })).start();
    sim.release("v2");
    sim.check("fail");
    sim.check("pass");
    sim.check("fail");
    expect(sim.status?.phase).toBe("Progressing");
    sim.check("fail");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("count across steps of one release", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ failureLimit: 1 }) })).start();
    sim.release("v2");
    sim.check("fail");
    for (let i = 0; i < 4; i++) sim.check("pass");
    expect(sim.status?.release?.canaryWeight).toBe(50);
    sim.check("fail");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("fail the whole check when any one metric fails", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("pass", "fail");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("roll back from a manual gate too", () => {
    const sim = new Simulation(makeRollout({ steps: [{ setWeight: 10 }, { pause: {} }] })).start();
    sim.release("v2");
    expect(sim.status?.phase).toBe("Paused");
    sim.check("fail");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("keep the failed version rolled back: it is not retried on later syncs or ticks", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("fail");
    sim.observe({ type: "specChanged" });
    sim.advanceBy(3_600_000);
    expect(sim.status).toMatchObject({ phase: "RolledBack", releaseCount: 1 });
  });

  it("record per-metric counts and last values", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ failureLimit: 5 }) })).start();
    sim.release("v2");
    sim.check("pass");
    sim.check("fail");
    expect(sim.status?.release?.metrics).toEqual([
      expect.objectContaining({ name: "success-rate", counts: { passed: 1, failed: 1, inconclusive: 0, errored: 0 }, lastOutcome: "fail", lastValue: 0.5, lastMessage: "0.5 < 0.99" }),
    ]);
  });
});

describe("inconclusive checks (too little traffic, no data, NaN)", () => {
  it("pause the release past inconclusiveLimit by default, never promote it", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    for (let i = 0; i < 3; i++) sim.check("inconclusive");
    expect(sim.status?.phase).toBe("Progressing");
    sim.check("inconclusive");
    expect(sim.status).toMatchObject({ phase: "Paused", canaryWeight: 10 });
    expect(sim.status?.release?.pauseReason).toBe("inconclusive");
    for (let i = 0; i < 10; i++) sim.check("pass");
    expect(sim.status?.phase).toBe("Paused");
  });

  it("roll back past inconclusiveLimit with onInconclusive: rollback", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ inconclusiveLimit: 1, onInconclusive: "rollback" }) })).start();
    sim.release("v2");
    sim.check("inconclusive");
    sim.check("inconclusive");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("count in a row: a pass resets the streak", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ inconclusiveLimit: 1, onInconclusive: "rollback" }) })).start();
    sim.release("v2");
    sim.check("inconclusive");
    sim.check("pass");
    sim.check("inconclusive");
    expect(sim.status?.phase).toBe("Progressing");
  });

  it("are what an empty analysis run counts as", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ inconclusiveLimit: 0, onInconclusive: "rollback" }) })).start();
    sim.release("v2");
    const release = sim.status!.release!;
    sim.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex, scheduledFor: Date.parse(release.nextAnalysisAt!), results: [] });
    expect(sim.status?.phase).toBe("RolledBack");
  });
});

describe("analysis errors (Prometheus unreachable)", () => {
  it("never roll back by default: past errorLimit the release pauses", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    for (let i = 0; i < 4; i++) sim.check("error");
    expect(sim.status).toMatchObject({ phase: "Paused", canaryWeight: 10 });
    expect(sim.status?.release?.pauseReason).toBe("error");
  });

  it("roll back past errorLimit with onError: rollback", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ errorLimit: 0, onError: "rollback" }) })).start();
    sim.release("v2");
    sim.check("error");
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("resume after a person says so, with the streak cleared", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    for (let i = 0; i < 4; i++) sim.check("error");
    sim.command("resume");
    expect(sim.status?.phase).toBe("Progressing");
    expect(sim.status?.release?.errorStreak).toBe(0);
  });
});

describe("stale analysis results", () => {
  it("are ignored when they belong to another release, step or run", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const release = sim.status!.release!;
    const scheduledFor = Date.parse(release.nextAnalysisAt!);
    const fail = [{ name: "success-rate", outcome: "fail" as const, value: 0.1, message: "0.1 < 0.99" }];
    sim.observe({ type: "analysis", releaseId: release.id + 1, stepIndex: release.stepIndex, scheduledFor, results: fail });
    sim.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex + 1, scheduledFor, results: fail });
    sim.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex, scheduledFor: scheduledFor - 1, results: fail });
    expect(sim.status?.phase).toBe("Progressing");
  });

  it("count once when the same run is reported twice", () => {
    const sim = new Simulation(makeRollout({ analysis: analysis({ failureLimit: 1 }) })).start();
    sim.release("v2");
    const release = sim.status!.release!;
    const observation = {
      type: "analysis" as const,
      releaseId: release.id,
      stepIndex: release.stepIndex,
      scheduledFor: Date.parse(release.nextAnalysisAt!),
      results: [{ name: "success-rate", outcome: "fail" as const, value: 0.1, message: "0.1 < 0.99" }],
    };
    sim.observe(observation);
    sim.observe(observation);
    expect(sim.status).toMatchObject({ phase: "Progressing" });
    expect(sim.status?.release?.checks.failed).toBe(1);
  });
});

describe("traffic that keeps failing to apply", () => {
  /** The waits between tries while traffic fails `tries` times in a row, from a sighting at T0. */
  function waits(sim: Simulation, tries: number): number[] {
    const waits: number[] = [];
    for (let i = 0; i < tries; i++) {
      const at = sim.decisions.at(-1)?.requeueAt;
      if (at === undefined) throw new Error("no retry was asked for");
      waits.push(at - sim.now);
      sim.tickAt(at);
    }
    return waits;
  }

  it("is tried again after 5 s, then after waits that double, at most 5 min apart, and from 5 s again after a success", () => {
    const sim = new Simulation(makeRollout());
    sim.trafficFails = true;
    sim.start();
    expect(waits(sim, 10)).toEqual([5_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    expect(sim.notifications().filter((kind) => kind === "traffic-failed")).toHaveLength(1);

    sim.trafficFails = false;
    const at = sim.decisions.at(-1)?.requeueAt ?? NaN;
    sim.tickAt(at);
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")?.status).toBe("True");

    sim.trafficFails = true;
    sim.release("v2");
    expect(waits(sim, 3)).toEqual([5_000, 5_000, 10_000]);
  });
});
