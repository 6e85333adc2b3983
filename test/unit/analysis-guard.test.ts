import { describe, expect, it } from "vitest";
import { GUARD_QUERIES, guardWindowMs, UNREACHED_SELECTOR } from "../../src/analysis/guard.js";

describe("the guard's window", () => {
  const window = (intervalMs: number, scrapeIntervalMs: number, releaseStartedAt: number, now: number) => guardWindowMs({ intervalMs, scrapeIntervalMs, releaseStartedAt, now });

  it("is two guard intervals when the guard looks once per scrape or less often", () => {
    expect(window(15_000, 15_000, 0, 3_600_000)).toBe(30_000);
    expect(window(1_000, 1_000, 0, 3_600_000)).toBe(2_000);
    expect(window(30_000, 15_000, 0, 3_600_000)).toBe(60_000);
  });

  it("is two scrapes when the guard looks more often than Prometheus scrapes (a shorter window has no data)", () => {
    expect(window(1_000, 15_000, 0, 3_600_000)).toBe(30_000);
    expect(window(5_000, 15_000, 0, 3_600_000)).toBe(30_000);
  });

  it("never reaches back before the release started, so a retry is not judged on the last run's errors", () => {
    expect(window(15_000, 15_000, 1_000_000, 1_012_000)).toBe(12_000);
    expect(window(15_000, 15_000, 1_000_000, 1_000_000)).toBe(0);
    expect(window(15_000, 15_000, 1_000_000, 999_000)).toBe(0); // a clock a little behind
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

  it("count, as requests and as errors, those its callers' sidecars failed for want of a ready endpoint, route or cluster", () => {
    const unreached = `sum(increase(istio_requests_total{${UNREACHED_SELECTOR}}[{{ window }}]))`;
    expect(UNREACHED_SELECTOR).toContain('reporter="source"');
    expect(UNREACHED_SELECTOR).toContain('destination_service_name="{{ destinationService }}"');
    expect(UNREACHED_SELECTOR).toContain('response_flags=~"UH|NC|NR"');
    expect(UNREACHED_SELECTOR).not.toContain("destination_version"); // Envoy picked no pod: "unknown"
    for (const query of Object.values(GUARD_QUERIES)) expect(query).toContain(`(${unreached} or vector(0))`);
  });
});
