import { describe, expect, it } from "vitest";
import { checkErrorDrift, driftingErrorFactor } from "../env/mesh-noise.js";

/** A repeatable uniform stream for the test (LCG; quality does not matter here). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
}

function walk(spread: number, timescaleSeconds: number, seconds: number, stepSeconds = 0.1): number[] {
  const factor = driftingErrorFactor({ spread, timescaleSeconds }, lcg(7));
  const values: number[] = [];
  for (let t = 0; t < seconds; t += stepSeconds) {
    factor.advance(stepSeconds);
    values.push(factor.value);
  }
  return values;
}

describe("the mesh simulator's drifting error factor", () => {
  it("averages 1 over a long run, so errorRate stays the mean rate", () => {
    const values = walk(0.3, 20, 20_000);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(mean).toBeCloseTo(1, 1);
  });

  it("wanders by about its spread in log, and slowly: neighbouring ticks are close", () => {
    const logs = walk(0.3, 20, 20_000).map(Math.log);
    const mean = logs.reduce((sum, v) => sum + v, 0) / logs.length;
    const sd = Math.sqrt(logs.reduce((sum, v) => sum + (v - mean) ** 2, 0) / logs.length);
    expect(sd).toBeGreaterThan(0.25);
    expect(sd).toBeLessThan(0.35);
    // One 0.1 s tick moves the log by 0.03 sd (0.3 * sqrt(1 - exp(-0.1 / 20))).
    const largestStep = logs.slice(1).reduce((largest, v, i) => Math.max(largest, Math.abs(v - (logs[i] ?? v))), 0);
    expect(largestStep).toBeLessThan(0.2);
  });

  it("never moves with spread 0, and refuses a negative spread or timescale", () => {
    expect(new Set(walk(0, 20, 10))).toEqual(new Set([1]));
    expect(() => checkErrorDrift({ spread: -1 })).toThrow(/spread must be a finite number >= 0, got -1/);
    expect(() => checkErrorDrift({ spread: 0.3, timescaleSeconds: 0 })).toThrow(/timescaleSeconds must be > 0/);
  });
});
