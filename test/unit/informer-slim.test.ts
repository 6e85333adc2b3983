import { describe, expect, it } from "vitest";
import { slimObject } from "../../src/kube/informer.js";

describe("the informer's cache", () => {
  it("keeps only what names a Rollout and tells its versions apart", () => {
    const whole = {
      apiVersion: "tideway.io/v1alpha1",
      kind: "Rollout",
      metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "42", uid: "u-1", annotations: { a: "b" }, managedFields: [{ manager: "tideway" }] },
      spec: { version: "v2" },
      status: { phase: "Healthy" },
    };
    expect(slimObject(whole)).toEqual({ metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "42" }, lane: "bulk" });
  });

  it("keeps the file a git Rollout came from and its invalid mark, for the mirror", () => {
    const fromGit = {
      metadata: {
        name: "ratings",
        namespace: "bookinfo",
        resourceVersion: "7",
        annotations: { "tideway.io/file": "rollouts/ratings.yaml", "tideway.io/invalid": "rollouts/ratings.yaml:9:5: spec.steps[0].setWeight: at most 100", a: "b" },
      },
    };
    expect(slimObject(fromGit)).toEqual({
      metadata: { name: "ratings", namespace: "bookinfo", resourceVersion: "7" },
      lane: "bulk",
      file: "rollouts/ratings.yaml",
      invalid: "rollouts/ratings.yaml:9:5: spec.steps[0].setWeight: at most 100",
    });
  });

  it("copes with an object without metadata", () => {
    expect(slimObject({})).toEqual({ metadata: {}, lane: "bulk" });
  });
});
