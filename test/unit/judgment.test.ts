import { describe, expect, it } from "vitest";
import { addSample, emptyEvidence, judge, mixtureEValue, RATIO_GRID, windowLogRatio, type ComparisonSample, type Evidence } from "../../src/rollout/judgment.js";
import { seededRandom, simulateWindow, type CanaryScenario } from "./judgment-simulation.js";

const window = (canary: [number, number], stable: [number, number]): ComparisonSample => ({
  canary: { requests: canary[0], bad: canary[1] },
  stable: { requests: stable[0], bad: stable[1] },
});

const evidenceOf = (maxIncrease: number, windows: ComparisonSample[]): Evidence => windows.reduce(addSample, emptyEvidence(maxIncrease));

/*
 * Reference values, computed independently in Python 3.11 (fractions and math, no shared code):
 *
 *   from fractions import Fraction as F; import math
 *   p  = F(2)*F(1,2) / (F(2)*F(1,2) + F(1,2));  p0 = F(3,2)*F(1,2) / (F(3,2)*F(1,2) + F(1,2))
 *   lr = (p/p0)**7 * ((1-p)/(1-p0))**3           # = 156250000/129140163 = 1.2099256836155612
 *
 *   def mix(windows, sign, rho0=1.5):             # mean over g = 2**(i/4), i = 1..16
 *     total = 0
 *     for i in range(1, 17):
 *       rho = rho0 * 2**(i/4) if sign > 0 else rho0 / 2**(i/4); L = 0
 *       for (nc, xc), (ns, xs) in windows:
 *         w = nc/(nc+ns); k = xc+xs
 *         pp = rho*w/(rho*w+1-w); pp0 = rho0*w/(rho0*w+1-w)
 *         L += xc*math.log(pp/pp0) + (k-xc)*math.log((1-pp)/(1-pp0))
 *       total += math.exp(L)
 *     return total / 16
 */
describe("the comparison's statistics, against reference values", () => {
  it("gives the exact binomial likelihood ratio of one window: 7 of 10 errors the canary's at 50%, rate ratio 2 against 1.5", () => {
    expect(Math.exp(windowLogRatio(2, 1.5, 0.5, 7, 10))).toBeCloseTo(156250000 / 129140163, 12);
  });

  it("gives the mixture e-values of a healthy canary over three windows whose weights change (10% then 50%)", () => {
    const evidence = evidenceOf(0.5, [window([1000, 6], [9000, 40]), window([1000, 9], [9000, 35]), window([5000, 30], [5000, 12])]);
    expect(mixtureEValue(evidence.logWorse)).toBeCloseTo(0.4962919408657886, 10);
    expect(mixtureEValue(evidence.logNoWorse)).toBeCloseTo(0.0155124710401756, 10);
    expect(evidence.canary).toEqual({ requests: 7000, bad: 45 });
  });

  it("judges a 4.5x regression worse at 99% confidence from one window (reference e-value 245.18)", () => {
    const evidence = evidenceOf(0.5, [window([1000, 20], [9000, 40])]);
    expect(mixtureEValue(evidence.logWorse)).toBeCloseTo(245.17549444158442, 8);
    expect(judge(evidence, 0.99).verdict).toBe("worse");
    expect(judge(evidence, 0.999).verdict).toBe("undecided");
  });

  it("learns nothing from a window without errors or without traffic to one version", () => {
    const evidence = evidenceOf(0.5, [window([100, 0], [900, 0]), window([0, 0], [900, 5])]);
    expect(evidence.logWorse).toEqual(RATIO_GRID.map(() => 0));
    expect(judge(evidence, 0.99)).toEqual({ verdict: "undecided", worse: 1, noWorse: 1 });
  });

  it("clamps impossible counts: more errors than requests, negative or NaN", () => {
    const evidence = evidenceOf(0.5, [window([10, 50], [Number.NaN, -3])]);
    expect(evidence.canary).toEqual({ requests: 10, bad: 10 });
    expect(evidence.stable).toEqual({ requests: 0, bad: 0 });
  });

  it("shows a healthy canary no worse once there are enough errors to tell", () => {
    const evidence = evidenceOf(
      0.5,
      Array.from({ length: 20 }, () => window([1000, 5], [9000, 45])),
    );
    expect(judge(evidence, 0.99).verdict).toBe("no-worse");
  });
});

/** Runs a scenario window by window until the verdict or `windows`; the share of runs judged worse. */
function worseShare(scenario: CanaryScenario, maxIncrease: number, confidence: number, runs: number, windows: number, seed: number): number {
  const random = seededRandom(seed);
  let worse = 0;
  for (let run = 0; run < runs; run++) {
    let evidence = emptyEvidence(maxIncrease);
    for (let i = 0; i < windows; i++) {
      evidence = addSample(evidence, simulateWindow(random, scenario));
      const { verdict } = judge(evidence, confidence);
      if (verdict === "worse") worse++;
      if (verdict !== "undecided") break;
    }
  }
  return worse / runs;
}

/** alpha plus three binomial standard errors of a share estimated from `runs` runs. */
const bound = (alpha: number, runs: number) => alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / runs);

describe("the comparison's false rollbacks, over seeded simulations", () => {
  // Looked at after every window (no peeking correction): Ville's inequality bounds the share by 1 - confidence.
  const healthy: { name: string; scenario: CanaryScenario }[] = [
    { name: "20 req/s, 0.5% errors", scenario: { requestsPerSecond: 20, canaryWeight: 10, baseline: 0.005, ratio: 1, windowSeconds: 15 } },
    { name: "200 req/s, 0.1% errors", scenario: { requestsPerSecond: 200, canaryWeight: 50, baseline: 0.001, ratio: 1, windowSeconds: 15 } },
    { name: "50 req/s, 2% noisy errors", scenario: { requestsPerSecond: 50, canaryWeight: 20, baseline: 0.02, ratio: 1, noise: 0.5, windowSeconds: 15 } },
  ];

  it.each(healthy)("rolls back at most 1 in 100 healthy canaries at 0.99 confidence: $name (1,000 runs of 40 windows; asserted <= 0.0194, alpha + 3 standard errors)", ({ scenario }) => {
    expect(worseShare(scenario, 0.5, 0.99, 1_000, 40, 15)).toBeLessThanOrEqual(bound(0.01, 1_000));
  });

  it.each(healthy)("holds 1 - confidence for a canary exactly at the margin: $name (0.9 confidence, 600 runs; asserted <= 0.137)", ({ scenario }) => {
    expect(worseShare({ ...scenario, ratio: 1.5 }, 0.5, 0.9, 600, 40, 16)).toBeLessThanOrEqual(bound(0.1, 600));
  });

  it("catches a 3x regression at 20 req/s and 10% weight within 40 windows almost always", () => {
    const scenario: CanaryScenario = { requestsPerSecond: 20, canaryWeight: 10, baseline: 0.02, ratio: 3, windowSeconds: 15 };
    expect(worseShare(scenario, 0.5, 0.99, 300, 40, 17)).toBeGreaterThanOrEqual(0.9);
  });
});
