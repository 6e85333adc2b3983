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

  it("copes with an object without metadata", () => {
    expect(slimObject({})).toEqual({ metadata: {}, lane: "bulk" });
  });
});
