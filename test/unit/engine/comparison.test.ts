import { describe, expect, it } from "vitest";
import type { MetricResult } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation } from "./harness.js";

const compare = (metric: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  new Simulation(makeRollout({ analysis: { interval: "15s", metrics: [{ name: "success-rate", compare: { maxIncrease: 0.5 }, ...metric }], ...extra } }));

/** One run's result as the analysis adapter reports it: the canary's success rate, and both versions' counts. */
function counted(canary: [number, number], stable: [number, number], outcome: MetricResult["outcome"] = "pass"): MetricResult {
  return {
    name: "success-rate",
    outcome,
    value: 1 - canary[1] / canary[0],
    message: String(1 - canary[1] / canary[0]),
    comparison: { sample: { canary: { requests: canary[0], bad: canary[1] }, stable: { requests: stable[0], bad: stable[1] } } },
  };
}

function run(sim: Simulation, ...results: MetricResult[]): void {
  const release = sim.status?.release;
  if (!release?.nextAnalysisAt) throw new Error(`no analysis is scheduled (${sim.status?.message})`);
  const scheduledFor = Date.parse(release.nextAnalysisAt);
  sim.now = Math.max(sim.now, scheduledFor);
  sim.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex, scheduledFor, results });
}

describe("judging the canary against stable", () => {
  it("rolls back a canary whose error rate is 4.5x stable's, saying so in words", () => {
    const sim = compare().start();
    sim.release("v2");
    run(sim, counted([1000, 20], [9000, 40]));
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toBe("success-rate v2 error rate 2.00% vs v1 0.44% over 1,000 requests: worse by more than 50% (99% confidence)");
  });

  it("collects evidence over the runs of a release until a healthy canary is shown no worse, then advances", () => {
    const sim = compare().start();
    sim.release("v2");
    run(sim, counted([100, 1], [900, 8]));
    expect(sim.status?.release?.metrics[0]).toMatchObject({
      lastOutcome: "inconclusive",
      lastMessage: "v2 error rate 1.00% vs v1 0.89% over 100 requests: not decided yet (99% confidence needed)",
      evidence: { canary: { requests: 100, bad: 1 }, stable: { requests: 900, bad: 8 } },
    });
    for (let i = 0; i < 40 && sim.status?.release?.metrics[0]?.lastOutcome !== "pass"; i++) run(sim, counted([1000, 10], [9000, 90]));
    const metric = sim.status?.release?.metrics[0];
    expect(metric?.lastOutcome).toBe("pass");
    expect(metric?.lastMessage).toMatch(/^v2 error rate 1\.00% vs v1 1\.0\d% over [\d,]+ requests: no worse \(99% confidence\)$/);
    expect(sim.status?.release?.checks.failed).toBe(0);
  });

  it("keeps a canary without errors in either version inconclusive when it has no threshold", () => {
    const sim = compare({}, { inconclusiveLimit: 10 }).start();
    sim.release("v2");
    run(sim, counted([100, 0], [900, 0]));
    expect(sim.status?.release?.metrics[0]?.lastMessage).toBe("v2 error rate 0% vs v1 0% over 100 requests: no bad requests in either version yet (99% confidence needed)");
    expect(sim.status?.release?.checks.inconclusive).toBe(1);
  });

  it("passes on a threshold while the comparison collects, and still fails later on the comparison", () => {
    const sim = compare({ min: 0.9 }).start();
    sim.release("v2");
    run(sim, counted([100, 0], [900, 0]));
    expect(sim.status?.release?.metrics[0]?.lastOutcome).toBe("pass");
    expect(sim.status?.release?.metrics[0]?.lastMessage).toMatch(/^1; v2 error rate 0% vs v1 0%/);
    run(sim, counted([1000, 30], [9000, 40]));
    expect(sim.status?.phase).toBe("RolledBack");
  });

  it("fails on the threshold even when the comparison has not decided", () => {
    const sim = compare({ min: 0.99 }).start();
    sim.release("v2");
    run(sim, { ...counted([100, 2], [900, 10]), outcome: "fail", message: "0.98 < 0.99" });
    expect(sim.status?.phase).toBe("RolledBack");
    expect(sim.status?.history.at(-1)?.reason).toMatch(/^success-rate 0\.98 < 0\.99; v2 error rate 2\.00% vs v1 1\.11%/);
  });

  it("leaves out a run whose counts reach back before the step's traffic (two traffic splits in one window), and counts the next", () => {
    const sim = compare({}, { inconclusiveLimit: 10 }).start();
    sim.release("v2");
    const overMinute = (canary: [number, number], stable: [number, number]): MetricResult => {
      const plain = counted(canary, stable);
      return plain.comparison ? { ...plain, comparison: { ...plain.comparison, windowMs: 60_000 } } : plain;
    };
    // Every 15 s from the step's start: the first three windows of a minute began before it.
    for (let i = 0; i < 3; i++) run(sim, overMinute([100, 1], [900, 8]));
    expect(sim.status?.release?.metrics[0]?.evidence?.canary).toEqual({ requests: 0, bad: 0 });
    expect(sim.status?.release?.metrics[0]?.lastMessage).toBe("no v2 requests yet: nothing to compare");
    run(sim, overMinute([100, 1], [900, 8]));
    expect(sim.status?.release?.metrics[0]?.evidence?.canary).toEqual({ requests: 100, bad: 1 });
  });

  it("starts the evidence over for a new release", () => {
    const sim = compare({}, { inconclusiveLimit: 10 }).start();
    sim.release("v2");
    run(sim, counted([100, 1], [900, 8]));
    sim.release("v3");
    run(sim, counted([100, 1], [900, 8]));
    expect(sim.status?.release?.metrics[0]?.evidence?.canary).toEqual({ requests: 100, bad: 1 });
  });

  it("does not keep the counts in the results it announces", () => {
    const sim = compare().start();
    sim.release("v2");
    run(sim, counted([1000, 20], [9000, 40]));
    const announced = sim.effects.flatMap((e) => (e.type === "notify" && e.event.kind === "check-failed" ? [e.event.details.results] : []));
    expect(announced).toHaveLength(1);
    expect(JSON.stringify(announced)).not.toContain("comparison");
  });
});
