import { describe, expect, it } from "vitest";
import { desiredTraffic } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation } from "./harness.js";

const gated = () => makeRollout({ steps: [{ setWeight: 10 }, { pause: "30s" }, { setWeight: 50 }, { pause: {} }, { setWeight: 80 }, { pause: "30s" }] });

describe("tideway.io/abort", () => {
  it("sends all traffic back to stable at once and records who and why", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.command("abort", "bad latency", "alice");
    expect(sim.status).toMatchObject({ phase: "Aborted", canaryVersion: "v2", canaryWeight: 0 });
    expect(desiredTraffic(sim.rollout, sim.status!)).toEqual({ stableVersion: "v1", canaryWeight: 0 });
    expect(sim.status?.history.at(-1)).toMatchObject({ outcome: "aborted", reason: "bad latency by alice" });
    expect(sim.status?.commands.at(-1)).toMatchObject({ command: "abort", value: "bad latency", user: "alice", source: "annotation", result: "aborted v2" });
  });

  it("is acknowledged but ignored when nothing is in flight", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.command("abort", "oops");
    expect(sim.status?.phase).toBe("Healthy");
    expect(sim.status?.commands.at(-1)).toMatchObject({ result: "ignored: no release in flight" });
  });

  it("is not retried on its own: the aborted version stays aborted", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.command("abort");
    sim.observe({ type: "specChanged" });
    sim.advanceBy(600_000);
    expect(sim.status?.phase).toBe("Aborted");
    expect(sim.status?.history.at(-1)?.reason).toBe("aborted by hand by alice");
  });
});

describe("tideway.io/abort committed in git", () => {
  it("keeps a new version from starting while it stays in git", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2", "known bad build");
    expect(sim.status).toMatchObject({ phase: "Aborted", canaryVersion: "v2", stableVersion: "v1" });
    expect(sim.trafficWrites().at(-1)).toEqual({ stable: "v1", weight: 0, header: false });
    sim.command("retry");
    expect(sim.status?.phase).toBe("Aborted");
    expect(sim.status?.commands.at(-1)?.result).toBe("ignored: v2 is held aborted in git (known bad build)");
  });

  it("aborts a release in flight when it is added", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.release("v2", "stop it");
    expect(sim.status).toMatchObject({ phase: "Aborted", canaryWeight: 0 });
    expect(sim.status?.history.at(-1)?.reason).toBe("held aborted in git: stop it");
  });

  it("lets a retry through once it is removed from git", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2", "hold");
    sim.release("v2");
    expect(sim.status?.phase).toBe("Aborted");
    sim.command("retry");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryVersion: "v2", canaryWeight: 10 });
  });
});

describe("tideway.io/promote", () => {
  it("step: completes a manual gate and the release moves on", () => {
    const sim = new Simulation(gated()).start();
    sim.release("v2");
    sim.passUntilDone();
    expect(sim.status).toMatchObject({ phase: "Paused", canaryWeight: 50, step: "4/6" });
    expect(sim.status?.release?.pauseReason).toBe("gate");
    sim.command("promote", "step");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryWeight: 80, step: "6/6" });
    sim.passUntilDone();
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
  });

  it("step: ends a timed pause early", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.command("promote");
    expect(sim.status?.canaryWeight).toBe(50);
  });

  it("full: sends 100% to the canary at once and makes it stable", () => {
    const sim = new Simulation(gated()).start();
    sim.release("v2");
    sim.command("promote", "full", "bob");
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
    expect(sim.status?.history.at(-1)).toMatchObject({ outcome: "promoted", reason: "promoted in full by bob" });
  });

  it("rejects an unknown mode and changes nothing", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.command("promote", "everything");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryWeight: 10 });
    expect(sim.status?.commands.at(-1)?.result).toBe('ignored: expected "step" or "full", found "everything"');
  });

  it("at the final check promotes", () => {
    const sim = new Simulation(makeRollout({ steps: [{ setWeight: 30 }] })).start();
    sim.release("v2");
    sim.command("promote");
    expect(sim.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
  });
});

describe("tideway.io/pause and tideway.io/resume", () => {
  it("freeze the pause clock while paused", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined })).start();
    sim.release("v2");
    sim.advanceBy(30_000);
    sim.command("pause", "looking at dashboards");
    expect(sim.status?.phase).toBe("Paused");
    sim.advanceBy(600_000);
    expect(sim.status).toMatchObject({ phase: "Paused", canaryWeight: 10 });
    sim.command("resume");
    sim.advanceBy(29_000);
    expect(sim.status?.canaryWeight).toBe(10);
    sim.advanceBy(1_000);
    expect(sim.status?.canaryWeight).toBe(50);
  });

  it("resume at a manual gate is a promote of that step", () => {
    const sim = new Simulation(gated()).start();
    sim.release("v2");
    sim.passUntilDone();
    sim.command("resume");
    expect(sim.status?.canaryWeight).toBe(80);
  });

  it("are ignored when there is nothing to pause or resume", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.command("pause");
    sim.command("resume");
    sim.release("v2");
    sim.command("pause");
    sim.command("pause");
    expect(sim.status?.commands.map((c) => c.result)).toEqual(["ignored: no release in flight", "ignored: nothing is paused", "paused at step 2/4", "ignored: already paused"]);
  });
});

describe("tideway.io/retry", () => {
  it("starts a rolled-back version again from step 0", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("fail");
    sim.command("retry");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryVersion: "v2", canaryWeight: 10, releaseCount: 2 });
    expect(sim.notifications()).toContain("retried");
  });

  it("is ignored while a release is in flight or when nothing failed", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.command("retry");
    sim.release("v2");
    sim.command("retry");
    expect(sim.status?.commands.map((c) => c.result)).toEqual(["ignored: nothing to retry", "ignored: a release is in flight"]);
  });
});
