import { describe, expect, it } from "vitest";
import { jointSelector } from "../../src/kube/readiness.js";

describe("one pod list for several versions", () => {
  it("joins selectors with the same keys, values that differ becoming a set", () => {
    expect(
      jointSelector([
        { app: "reviews", version: "v1" },
        { version: "v2", app: "reviews" },
      ]),
    ).toBe("app=reviews,version in (v1,v2)");
    expect(jointSelector([{ "tideway.io/version": "v1" }])).toBe("tideway.io/version=v1");
  });

  it("does not join selectors with different keys, or none", () => {
    expect(jointSelector([{ app: "reviews", version: "v1" }, { app: "reviews" }])).toBeUndefined();
    expect(jointSelector([])).toBeUndefined();
  });
});
