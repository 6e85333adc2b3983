/** `tideway status`'s LAST ANALYSIS column: why a check did not pass, and a run that is overdue. */
import { describe, expect, it } from "vitest";
import { lastAnalysis, readyPods, statusTable } from "../../src/cli/control.js";
import { makeRollout, Simulation } from "./engine/harness.js";

describe("the LAST ANALYSIS column", () => {
  it("shows the value of a passing check, and the reason of one that did not pass", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    sim.check("pass");
    expect(lastAnalysis(sim.status, sim.now)).toBe("success-rate 1 (pass)");
    const release = sim.status!.release!;
    sim.observe({
      type: "analysis",
      releaseId: release.id,
      stepIndex: release.stepIndex,
      scheduledFor: Date.parse(release.nextAnalysisAt!),
      results: [{ name: "success-rate", outcome: "error", value: null, message: "no answer from prometheus:9090 within 10000 ms" }],
    });
    expect(lastAnalysis(sim.status, sim.now)).toBe("success-rate - (error: no answer from prometheus:9090 within 10000 ms)");
  });

  it("says a run is overdue when Prometheus has not answered well past its time", () => {
    const sim = new Simulation(makeRollout()).start();
    sim.release("v2");
    const due = Date.parse(sim.status!.release!.nextAnalysisAt!);
    expect(lastAnalysis(sim.status, due + 5_000)).toBe("");
    expect(lastAnalysis(sim.status, due + 25_000)).toBe("next check 25s overdue: analysis slow");
  });
});

describe("the READY column", () => {
  it("shows the ready pods of stable and canary as the gate last saw them, and the table names the wait", () => {
    const sim = new Simulation(makeRollout({ analysis: undefined }));
    sim.rollout = { ...sim.rollout, readiness: [{ version: "v1", ready: 3, total: 3 }] };
    sim.start();
    sim.rollout = {
      ...sim.rollout,
      readiness: [
        { version: "v1", ready: 3, total: 3 },
        { version: "v2", ready: 0, total: 3 },
      ],
    };
    sim.release("v2");
    expect(readyPods(sim.status)).toBe("v1 3/3, v2 0/3");
    const table = statusTable(
      [{ apiVersion: "tideway.io/v1alpha1", kind: "Rollout", metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "1" }, spec: {}, status: sim.status }],
      false,
      sim.now,
    );
    expect(table.split("\n")[0]).toMatch(/WEIGHT\s+READY\s+STEP/);
    expect(table).toContain("v1 3/3, v2 0/3");
    expect(table).toContain("waiting for v2: 0/3 pods ready");
  });
});
