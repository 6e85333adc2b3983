import { describe, expect, it } from "vitest";
import type { Effect } from "../../../src/rollout/engine.js";
import type { RolloutSpecInput } from "../../../src/rollout/schema.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

const workload = (extra: Record<string, unknown> = {}) => ({
  replicas: 4,
  template: { metadata: { labels: { app: "reviews", version: "{{ version }}" } }, spec: { containers: [{ name: "reviews", image: "example.com/reviews:{{ version }}" }] } },
  ...extra,
});

function sim(overrides: Partial<RolloutSpecInput> = {}): Simulation {
  const s = new Simulation(makeRollout({ analysis: undefined, workload: workload() as never, ...overrides }));
  s.rollout = { ...s.rollout, readiness: [{ version: "v1", ready: 4, total: 4 }] };
  return s.start();
}

const workloadEffects = (effects: Effect[]) => effects.filter((e) => e.type === "applyWorkload" || e.type === "retireWorkload");

describe("workloads from the Rollout (spec.workload)", () => {
  it("applies the stable's Deployment on adoption, and the canary's when the release starts, before any traffic, and again while a step waits", () => {
    const s = sim();
    expect(workloadEffects(s.effects)).toEqual([{ type: "applyWorkload", version: "v1", weight: 100 }]); // adoption makes the stable's, if missing
    s.rollout = { ...s.rollout, readiness: [{ version: "v1", ready: 4, total: 4 }] };
    s.release("v2");
    expect(s.decisions.at(-2)?.effects.find((e) => e.type === "applyWorkload")).toEqual({ type: "applyWorkload", version: "v2", weight: 10 });
    expect(s.status?.canaryWeight).toBe(0);
    const applied = workloadEffects(s.effects).length;
    s.advanceBy(5_000);
    expect(workloadEffects(s.effects).length).toBe(applied + 1); // re-applied while it waits: idempotent, heals a lost apply
    expect(
      workloadEffects(s.effects)
        .slice(1)
        .every((e) => e.type === "applyWorkload" && e.version === "v2" && e.weight === 10),
    ).toBe(true);
    s.rollout = {
      ...s.rollout,
      readiness: [
        { version: "v1", ready: 4, total: 4 },
        { version: "v2", ready: 4, total: 4 },
      ],
    };
    s.advanceBy(1_000);
    expect(s.status?.canaryWeight).toBe(10);
  });

  it("scales the canary with the weight it waits for when scaleWithWeight is on", () => {
    const s = sim({ workload: workload({ scaleWithWeight: true }) as never });
    s.rollout = {
      ...s.rollout,
      readiness: [
        { version: "v1", ready: 4, total: 4 },
        { version: "v2", ready: 1, total: 1 },
      ],
    };
    s.release("v2");
    expect(s.status?.canaryWeight).toBe(10);
    s.advanceBy(60_000); // 50% needs 2 ready of the stable's 4
    expect(workloadEffects(s.effects).at(-1)).toEqual({ type: "applyWorkload", version: "v2", weight: 50 });
  });

  it("retires the old stable after promotion: scaled to 0 and deleted after scaleDownDelay", () => {
    const s = sim({ workload: workload({ scaleDownDelay: "30s" }) as never });
    s.rollout = {
      ...s.rollout,
      readiness: [
        { version: "v1", ready: 4, total: 4 },
        { version: "v2", ready: 4, total: 4 },
      ],
    };
    s.release("v2");
    s.advanceBy(60_000);
    s.advanceBy(60_000);
    expect(s.status).toMatchObject({ phase: "Healthy", stableVersion: "v2" });
    const promotedAt = s.now;
    expect(s.status?.retiring).toEqual([{ version: "v1", at: new Date(promotedAt + 30_000).toISOString(), delete: true }]);
    expect(s.decisions.at(-1)?.requeueAt).toBe(promotedAt + 30_000);
    s.tickAt(promotedAt + 29_000);
    expect(workloadEffects(s.effects).filter((e) => e.type === "retireWorkload")).toEqual([]);
    s.tickAt(promotedAt + 30_000);
    expect(workloadEffects(s.effects).filter((e) => e.type === "retireWorkload")).toEqual([{ type: "retireWorkload", version: "v1", delete: true }]);
    expect(s.status?.retiring).toBeUndefined();
  });

  it("keeps a rolled-back canary at 0 pods for a fast retry, and a retry cancels its retirement", () => {
    const s = sim();
    s.rollout = {
      ...s.rollout,
      readiness: [
        { version: "v1", ready: 4, total: 4 },
        { version: "v2", ready: 4, total: 4 },
      ],
    };
    s.release("v2");
    s.command("abort", "bad");
    expect(s.status?.retiring).toEqual([{ version: "v2", at: new Date(s.now + 30_000).toISOString(), delete: false }]);
    s.command("retry");
    expect(s.status?.retiring).toBeUndefined();
    expect(workloadEffects(s.effects).at(-1)).toEqual({ type: "applyWorkload", version: "v2", weight: 10 });
    s.command("abort", "still bad");
    s.tickAt(s.now + 30_000);
    expect(workloadEffects(s.effects).at(-1)).toEqual({ type: "retireWorkload", version: "v2", delete: false });
  });

  it("leaves the workloads in place when the Rollout leaves git, and says which", () => {
    const s = sim();
    s.rollout = {
      ...s.rollout,
      readiness: [
        { version: "v1", ready: 4, total: 4 },
        { version: "v2", ready: 4, total: 4 },
      ],
    };
    s.release("v2");
    const decision = s.observe({ type: "removed" });
    expect(workloadEffects(decision.effects)).toEqual([]);
    const removed = decision.effects.find((e) => e.type === "notify" && e.event.kind === "removed" && e.event.message.includes("left in place"));
    expect(removed).toMatchObject({ event: { message: "reviews: removed from git; its Deployments reviews-v1, reviews-v2 are left in place for you to delete" } });
  });

  it("manages no workload without spec.workload", () => {
    const s = new Simulation(makeRollout({ analysis: undefined })).start();
    s.release("v2");
    s.command("abort", "x");
    expect(workloadEffects(s.effects)).toEqual([]);
    expect(s.status?.retiring).toBeUndefined();
    expect(T0).toBeLessThan(s.now + 1);
  });
});
