import { describe, expect, it } from "vitest";
import { formatProblem, formatWarning } from "../../src/rollout/problem.js";

describe("a problem in a Rollout file, as people read it", () => {
  it.each([
    ["file:line:column, the field, then the message", { file: "a.yaml", line: 3, column: 7, path: "spec.version", message: "expected a string" }, "a.yaml:3:7: spec.version: expected a string"],
    ["no field when it is about the whole document", { file: "a.yaml", line: 1, column: 1, path: "", message: "Map keys must be unique" }, "a.yaml:1:1: Map keys must be unique"],
    [
      "the Rollout it belongs to left out",
      { file: "rollouts/r.yaml", line: 9, column: 18, path: "spec.steps[0].setWeight", message: "expected an integer from 0 to 100, found 150", rollout: { name: "r", namespace: "default" } },
      "rollouts/r.yaml:9:18: spec.steps[0].setWeight: expected an integer from 0 to 100, found 150",
    ],
  ])("prints %s", (_, problem, expected) => {
    expect(formatProblem(problem)).toBe(expected);
  });

  it("marks a warning as one, after the position and before the field", () => {
    expect(formatWarning({ file: "r.yaml", line: 30, column: 16, path: "spec.analysis.metrics[2].query", message: "[15s] covers 1 scrape" })).toBe(
      "r.yaml:30:16: warning: spec.analysis.metrics[2].query: [15s] covers 1 scrape",
    );
  });
});
