/**
 * Seeded simulations of a canary and its stable version, window by window: the counts Prometheus
 * would report. Shared by the judgment tests and bench/judgment.ts; no clock, no randomness but the seed.
 */
import type { ComparisonSample } from "../../src/rollout/judgment.js";
import { seededRandom } from "../env/mesh-noise.js";

export { seededRandom };

/** Standard normal (Box-Muller). */
export function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Poisson: Knuth's product method when small, a rounded normal when large (mean > 50). */
export function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(random)));
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

/** Binomial, exact: skips from success to success with geometric gaps, O(n p). */
export function binomial(random: () => number, n: number, p: number): number {
  if (p <= 0 || n <= 0) return 0;
  if (p >= 1) return n;
  const logQ = Math.log(1 - p);
  let successes = 0;
  for (let at = Math.floor(Math.log(1 - random()) / logQ) + 1; at <= n; at += Math.floor(Math.log(1 - random()) / logQ) + 1) successes++;
  return successes;
}

export interface CanaryScenario {
  /** The service's requests per second, shared by canary and stable by `canaryWeight`. */
  requestsPerSecond: number;
  /** Percent of requests that go to the canary. */
  canaryWeight: number;
  /** The stable's share of bad requests (errors, or slow ones). */
  baseline: number;
  /** The canary's bad share as a multiple of the stable's (1: healthy). */
  ratio: number;
  /** Per-window spread of the baseline both versions share (log-normal sigma; 0: none). */
  noise?: number;
  windowSeconds: number;
}

/** One window's counts of both versions. */
export function simulateWindow(random: () => number, scenario: CanaryScenario): ComparisonSample {
  const drift = scenario.noise ? Math.exp(scenario.noise * normal(random)) : 1;
  const base = Math.min(1, scenario.baseline * drift);
  const total = scenario.requestsPerSecond * scenario.windowSeconds;
  const canaryRequests = poisson(random, (total * scenario.canaryWeight) / 100);
  const stableRequests = poisson(random, (total * (100 - scenario.canaryWeight)) / 100);
  return {
    canary: { requests: canaryRequests, bad: binomial(random, canaryRequests, Math.min(1, base * scenario.ratio)) },
    stable: { requests: stableRequests, bad: binomial(random, stableRequests, base) },
  };
}
