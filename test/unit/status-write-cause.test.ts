import { describe, expect, it } from "vitest";
import { writeCause } from "../../src/controller/reconciler.js";

const release = (extra: Record<string, unknown> = {}) => ({
  id: 2,
  version: "v2",
  stepIndex: 0,
  canaryWeight: 20,
  headerRoute: false,
  trafficApplied: false,
  checks: { pass: 0, fail: 0, inconclusive: 0, error: 0 },
  stepChecks: { pass: 0, fail: 0, inconclusive: 0, error: 0 },
  metrics: [],
  ...extra,
});
const status = (extra: Record<string, unknown> = {}, rel: Record<string, unknown> | undefined = {}) => ({
  phase: "Progressing",
  stableVersion: "v1",
  releaseCount: 2,
  conditions: [],
  ...(rel ? { release: release(rel) } : {}),
  ...extra,
});

describe("writeCause", () => {
  it("names a release's start, step, weight and end as a step", () => {
    expect(writeCause(status({ phase: "Healthy" }, undefined), status())).toBe("step");
    expect(writeCause(status(), status({}, { canaryWeight: 50 }))).toBe("step");
    expect(writeCause(status(), status({}, { stepIndex: 1 }))).toBe("step");
    expect(writeCause(undefined, status())).toBe("step");
  });

  it("names traffic confirmed, a check's result and an outbox cleared apart", () => {
    expect(writeCause(status(), status({}, { trafficApplied: true }))).toBe("traffic");
    expect(writeCause(status(), status({}, { checks: { pass: 1, fail: 0, inconclusive: 0, error: 0 } }))).toBe("check");
    expect(writeCause(status({ outbox: [{ id: "7" }] }), status())).toBe("outbox");
    expect(writeCause(status(), status({ observedGeneration: 3 }))).toBe("other");
  });
});
