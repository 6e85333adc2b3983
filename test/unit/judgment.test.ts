import { describe, expect, it } from "vitest";
import { addSample, alternatives, ALTERNATIVES, continueEvidence, emptyEvidence, judge, mixtureEValue, windowLogRatio, type ComparisonSample, type Evidence } from "../../src/rollout/judgment.js";
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
 *   def mix(windows, side, m=0.5, n=24, span=20):  # side +1: worse, -1: no worse
 *     rho0 = 1 + m
 *     lo = math.log(1 + m/3) if side > 0 else math.log(1 + m/2)
 *     thetas = [lo * span**(i/(n-1)) for i in range(n)]
 *     ws = [t**-0.5 for t in thetas]; s = sum(ws); ws = [x/s for x in ws]
 *     total = 0
 *     for t, wt in zip(thetas, ws):
 *       rho = rho0*math.exp(side*t); L = 0
 *       for (nc, xc), (ns, xs) in windows:
 *         w = nc/(nc+ns); k = xc+xs
 *         p = rho*w/(rho*w+1-w); p0 = rho0*w/(rho0*w+1-w)
 *         L += xc*math.log(p/p0) + (k-xc)*math.log((1-p)/(1-p0))
 *       total += wt*math.exp(L)
 *     return total
 */
describe("the comparison's statistics, against reference values", () => {
  it("gives the exact binomial likelihood ratio of one window: 7 of 10 errors the canary's at 50%, rate ratio 2 against 1.5", () => {
    expect(Math.exp(windowLogRatio(2, 1.5, 0.5, 7, 10))).toBeCloseTo(156250000 / 129140163, 12);
  });

  it("gives the mixture e-values of a canary over three windows whose weights change (10% then 50%)", () => {
    const evidence = evidenceOf(0.5, [window([1000, 6], [9000, 40]), window([1000, 9], [9000, 35]), window([5000, 30], [5000, 12])]);
    const { worse, noWorse } = alternatives(0.5);
    // mix(h, 1) and mix(h, -1) for these three windows
    expect(mixtureEValue(evidence.logWorse, worse.weight)).toBeCloseTo(1.7146354007049391, 10);
    expect(mixtureEValue(evidence.logNoWorse, noWorse.weight)).toBeCloseTo(0.024628983636458913, 10);
    expect(evidence.canary).toEqual({ requests: 7000, bad: 45 });
  });

  it("judges a 4.5x regression worse at 99% confidence from one window (reference e-value 170.27)", () => {
    const evidence = evidenceOf(0.5, [window([1000, 20], [9000, 40])]);
    expect(judge(evidence, 0.99).worse).toBeCloseTo(170.26776216471214, 8);
    expect(judge(evidence, 0.99).verdict).toBe("worse");
    expect(judge(evidence, 0.999).verdict).toBe("undecided");
  });

  it("places the alternatives by the margin: maxIncrease 0.2, the same window (reference e-values 859.06 and 0.0833)", () => {
    const evidence = evidenceOf(0.2, [window([1000, 20], [9000, 40])]);
    expect(judge(evidence, 0.99).worse).toBeCloseTo(859.0637592921087, 7);
    expect(judge(evidence, 0.99).noWorse).toBeCloseTo(0.0833289247232845, 10);
  });

  it("weighs the alternatives nearest the margin most, from a third of the margin beyond it (worse) and half of it inside (no worse)", () => {
    const { worse, noWorse } = alternatives(0.5);
    expect(worse.rho[0]).toBeCloseTo(1.5 * (1 + 0.5 / 3), 12);
    expect(noWorse.rho[0]).toBeCloseTo(1.5 / (1 + 0.5 / 2), 12);
    expect(Math.log(worse.rho.at(-1)! / 1.5)).toBeCloseTo(20 * Math.log(1 + 0.5 / 3), 12);
    for (const side of [worse, noWorse]) {
      expect(side.rho).toHaveLength(ALTERNATIVES);
      expect(side.weight.reduce((sum, w) => sum + w, 0)).toBeCloseTo(1, 12);
      expect(side.weight[0]! / side.weight.at(-1)!).toBeCloseTo(Math.sqrt(20), 12);
    }
  });

  it("starts the evidence over for another margin, or when it was kept by another mixture (16 alternatives)", () => {
    const kept = evidenceOf(0.5, [window([1000, 20], [9000, 40])]);
    expect(continueEvidence(kept, 0.5)).toBe(kept);
    expect(continueEvidence(kept, 0.2)).toEqual(emptyEvidence(0.2));
    expect(continueEvidence({ ...kept, logWorse: kept.logWorse.slice(0, 16), logNoWorse: kept.logNoWorse.slice(0, 16) }, 0.5)).toEqual(emptyEvidence(0.5));
    expect(continueEvidence(undefined, 0.5)).toEqual(emptyEvidence(0.5));
  });

  it("learns nothing from a window without errors or without traffic to one version", () => {
    const evidence = evidenceOf(0.5, [window([100, 0], [900, 0]), window([0, 0], [900, 5])]);
    expect(evidence.logWorse).toEqual(Array.from({ length: ALTERNATIVES }, () => 0));
    const { verdict, worse, noWorse } = judge(evidence, 0.99);
    expect([verdict, worse, noWorse]).toEqual(["undecided", expect.closeTo(1, 12), expect.closeTo(1, 12)]);
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

/** Runs a scenario window by window until the verdict or `windows`; the shares of runs judged worse and no worse. */
function verdictShares(scenario: CanaryScenario, maxIncrease: number, confidence: number, runs: number, windows: number, seed: number): { worse: number; noWorse: number } {
  const random = seededRandom(seed);
  const found = { worse: 0, noWorse: 0 };
  for (let run = 0; run < runs; run++) {
    let evidence = emptyEvidence(maxIncrease);
    for (let i = 0; i < windows; i++) {
      evidence = addSample(evidence, simulateWindow(random, scenario));
      const { verdict } = judge(evidence, confidence);
      if (verdict === "worse") found.worse++;
      if (verdict === "no-worse") found.noWorse++;
      if (verdict !== "undecided") break;
    }
  }
  return { worse: found.worse / runs, noWorse: found.noWorse / runs };
}

/** alpha plus three binomial standard errors of a share estimated from `runs` runs. */
const bound = (alpha: number, runs: number) => alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / runs);

describe("the comparison's false verdicts, over seeded simulations", () => {
  // Looked at after every window (no peeking correction): Ville's inequality bounds the share by 1 - confidence.
  const healthy: { name: string; scenario: CanaryScenario }[] = [
    { name: "20 req/s, 0.5% errors", scenario: { requestsPerSecond: 20, canaryWeight: 10, baseline: 0.005, ratio: 1, windowSeconds: 15 } },
    { name: "200 req/s, 0.1% errors", scenario: { requestsPerSecond: 200, canaryWeight: 50, baseline: 0.001, ratio: 1, windowSeconds: 15 } },
    { name: "50 req/s, 2% noisy errors", scenario: { requestsPerSecond: 50, canaryWeight: 20, baseline: 0.02, ratio: 1, noise: 0.5, windowSeconds: 15 } },
  ];

  it.each(healthy)("rolls back at most 1 in 100 healthy canaries at 0.99 confidence: $name (1,000 runs of 40 windows; asserted <= 0.0194, alpha + 3 standard errors)", ({ scenario }) => {
    expect(verdictShares(scenario, 0.5, 0.99, 1_000, 40, 15).worse).toBeLessThanOrEqual(bound(0.01, 1_000));
  });

  // Exactly at the margin both e-processes are at their null: neither verdict may come more often than 1 - confidence.
  it.each(healthy)("judges a canary exactly at the margin worse, or no worse, at most 1 - confidence of the time: $name (0.9 confidence, 600 runs; asserted <= 0.137)", ({ scenario }) => {
    const shares = verdictShares({ ...scenario, ratio: 1.5 }, 0.5, 0.9, 600, 40, 16);
    expect(shares.worse).toBeLessThanOrEqual(bound(0.1, 600));
    expect(shares.noWorse).toBeLessThanOrEqual(bound(0.1, 600));
  });

  it.each([0.2, 1])("holds 1 - confidence on both sides at the margin for maxIncrease %s too (200 req/s at 50%, 1% errors, 0.9 confidence, 600 runs)", (maxIncrease) => {
    const scenario: CanaryScenario = { requestsPerSecond: 200, canaryWeight: 50, baseline: 0.01, ratio: 1 + maxIncrease, windowSeconds: 15 };
    const shares = verdictShares(scenario, maxIncrease, 0.9, 600, 40, 19);
    expect(shares.worse).toBeLessThanOrEqual(bound(0.1, 600));
    expect(shares.noWorse).toBeLessThanOrEqual(bound(0.1, 600));
  });

  it("catches a 3x regression at 20 req/s and 10% weight within 40 windows almost always", () => {
    const scenario: CanaryScenario = { requestsPerSecond: 20, canaryWeight: 10, baseline: 0.02, ratio: 3, windowSeconds: 15 };
    expect(verdictShares(scenario, 0.5, 0.99, 300, 40, 17).worse).toBeGreaterThanOrEqual(0.9);
  });

  it("catches a 2x regression against a 1.5x margin at 200 req/s, 0.5% errors and 50% weight within 40 windows most of the time", () => {
    const scenario: CanaryScenario = { requestsPerSecond: 200, canaryWeight: 50, baseline: 0.005, ratio: 2, windowSeconds: 15 };
    expect(verdictShares(scenario, 0.5, 0.99, 300, 40, 20).worse).toBeGreaterThanOrEqual(0.8);
  });
});
