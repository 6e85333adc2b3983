import { describe, expect, it } from "vitest";
import { laneOf, laneOfStatus } from "../../src/rollout/lane.js";

const adopted = { phase: "Healthy", stableVersion: "v1", releaseCount: 0, observedGeneration: 1, conditions: [{ type: "TrafficApplied", status: "True" }] };

describe("which reconcile work goes first", () => {
  it.each([
    ["a first sighting (no status yet)", { metadata: { generation: 1 } }, "bulk"],
    ["an empty status", { metadata: { generation: 1 }, status: {} }, "bulk"],
    ["an adopted Rollout with nothing to do", { metadata: { generation: 1 }, status: adopted }, "bulk"],
    ["a spec change not yet acted on", { metadata: { generation: 2 }, status: adopted }, "release"],
    ["a release in flight", { metadata: { generation: 2 }, status: { ...adopted, observedGeneration: 2, release: { id: 1 } } }, "release"],
    ["a command annotation", { metadata: { generation: 1, annotations: { "tideway.io/abort": "bad latency" } }, status: adopted }, "release"],
    ["a claimed command", { metadata: { generation: 1, annotations: { "tideway.io/claimed": "[]" } }, status: adopted }, "release"],
    ["an adoption whose traffic fails", { metadata: { generation: 1 }, status: { ...adopted, conditions: [{ type: "TrafficApplied", status: "False" }] } }, "bulk"],
    ["a promotion whose traffic fails", { metadata: { generation: 1 }, status: { ...adopted, releaseCount: 3, conditions: [{ type: "TrafficApplied", status: "False" }] } }, "release"],
  ] as const)("%s: %s", (_, object, lane) => {
    expect(laneOf(object)).toBe(lane);
  });

  it("reads a parsed status the same way", () => {
    expect(laneOfStatus(undefined)).toBe("bulk");
    expect(laneOfStatus(adopted)).toBe("bulk");
    expect(laneOfStatus({ ...adopted, release: {} })).toBe("release");
  });
});
