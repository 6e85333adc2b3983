import { describe, expect, it } from "vitest";
import { GUARD_QUERIES, guardWindowMs } from "../../src/analysis/guard.js";

describe("the guard's window", () => {
  it("is two guard intervals", () => {
    expect(guardWindowMs(15_000, 0, 3_600_000)).toBe(30_000);
    expect(guardWindowMs(1_000, 0, 3_600_000)).toBe(2_000);
  });

  it("never reaches back before the release started, so a retry is not judged on the last run's errors", () => {
    expect(guardWindowMs(15_000, 1_000_000, 1_012_000)).toBe(12_000);
    expect(guardWindowMs(15_000, 1_000_000, 1_000_000)).toBe(0);
    expect(guardWindowMs(15_000, 1_000_000, 999_000)).toBe(0); // a clock a little behind
  });
});

describe("the guard's queries", () => {
  it("select the canary's own server-side requests, all of them and the 5xx ones", () => {
    for (const query of Object.values(GUARD_QUERIES)) {
      expect(query).toContain('reporter="destination"');
      expect(query).toContain('destination_version="{{ version }}"');
      expect(query).toContain("[{{ window }}]");
    }
    expect(GUARD_QUERIES.errors).toContain('response_code=~"5.."');
    expect(GUARD_QUERIES.requests).not.toContain("response_code");
  });
});
