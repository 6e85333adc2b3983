/** status.message says what is true: traffic that did not apply, and checks that do not pass, are named. */
import { describe, expect, it } from "vitest";
import { makeRollout, Simulation } from "./harness.js";

describe("status.message", () => {
  it("does not claim 100% of traffic for a stable version whose traffic failed to apply", () => {
    const sim = new Simulation(makeRollout());
    sim.trafficFails = true;
    sim.start();
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")?.status).toBe("False");
    expect(sim.status?.message).toBe("v1 is stable; traffic not applied (retrying): connection refused");
    expect(sim.status?.message).not.toContain("100%");

    sim.trafficFails = false;
    sim.advanceBy(5_000);
    expect(sim.status?.message).toBe("v1 is stable: 100% of traffic");
  });

  it("names the failure while a step's traffic does not apply", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.trafficFails = true;
    sim.release("v2");
    expect(sim.status?.message).toBe("v2 at 0%: traffic not applied (retrying): connection refused");
  });

  it("says traffic is still being sent back after a rollback whose write failed", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.trafficFails = true;
    sim.check("fail");
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.message).toMatch(/^v2 rolled back: .*; sending 100% to v1; traffic not applied \(retrying\): connection refused$/);
  });

  it("names the last check when it did not pass (a Prometheus that does not answer)", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const release = sim.status!.release!;
    sim.observe({
      type: "analysis",
      releaseId: release.id,
      stepIndex: release.stepIndex,
      scheduledFor: Date.parse(release.nextAnalysisAt!),
      results: [{ name: "success-rate", outcome: "error", value: null, message: "no answer from prometheus:9090 within 10000 ms" }],
    });
    expect(sim.status?.message).toBe("v2 at 10%, step 2/4: pause 1m, 0 passing checks; last check success-rate error: no answer from prometheus:9090 within 10000 ms");
    sim.check("pass");
    expect(sim.status?.message).toBe("v2 at 10%, step 2/4: pause 1m, 1 passing check");
  });

  it("names the last check of a release paused by too many analysis errors", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    for (let i = 0; i < 4; i++) sim.check("error");
    expect(sim.status?.phase).toBe("Paused");
    expect(sim.status?.message).toBe("v2 at 10%, step 2/4: paused: too many analysis errors; last check success-rate error: error");
  });
});

describe("the Valid condition", () => {
  it("follows the problem of the Rollout's file in git, and moves its time only when it turns", () => {
    const sim = new Simulation(makeRollout()).start();
    expect(sim.status?.conditions.find((c) => c.type === "Valid")).toMatchObject({ status: "True", reason: "Valid" });
    sim.rollout = { ...sim.rollout, invalidFile: "rollouts/reviews.yaml:9:7: spec.steps[0].setWeight: expected at most 100" };
    sim.advanceBy(1_000);
    const invalid = sim.status?.conditions.find((c) => c.type === "Valid");
    expect(invalid).toMatchObject({ status: "False", reason: "InvalidFile", message: "rollouts/reviews.yaml:9:7: spec.steps[0].setWeight: expected at most 100" });
    sim.advanceBy(1_000);
    expect(sim.status?.conditions.find((c) => c.type === "Valid")?.lastTransitionTime).toBe(invalid?.lastTransitionTime);
    const fixed = { ...sim.rollout };
    delete fixed.invalidFile;
    sim.rollout = fixed;
    sim.advanceBy(1_000);
    expect(sim.status?.conditions.find((c) => c.type === "Valid")).toMatchObject({ status: "True", message: "the Rollout in git is valid" });
  });
});
