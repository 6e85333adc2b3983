/**
 * Judgment: is the canary worse than the stable version, beyond a margin, over the same windows?
 *
 * An anytime-valid sequential test on two counts per version and window: requests and "bad"
 * requests (5xx for success-rate; slower than the stable's p99 bucket for latency-p99). Given a
 * window's bad requests, each one is the canary's with probability pi(rho) = rho*w / (rho*w + 1 - w),
 * where w is the canary's share of the window's requests and rho the ratio of the canary's bad
 * rate to the stable's. Conditioning on each window makes a baseline that drifts over time, or
 * weights that change between steps, cancel out.
 *
 * Two e-processes, each a mixture of likelihood ratios against the margin rho0 = 1 + maxIncrease:
 *   worse:    alternatives rho > rho0; large when the canary is worse beyond the margin.
 *   no worse: alternatives rho < rho0; large when the canary is shown to be within the margin.
 * Because pi is increasing in rho, each ratio is a supermartingale under every rho on the other
 * side of rho0, so by Ville's inequality P(ever >= 1/alpha) <= alpha however often it is looked at:
 * a canary within the margin is judged worse with probability at most 1 - confidence.
 *
 * The mixture (the prior over alternatives) decides how fast a verdict comes, never whether it is
 * valid. Alternatives near the margin take the most requests to tell apart, so they get the most
 * weight: see `alternatives()`.
 *
 * Pure and small: the engine keeps the evidence in status and adds each run's sample to it.
 */

/** Requests and bad requests (errors, or slow ones) of one version. */
export interface Counts {
  requests: number;
  bad: number;
}

/** One window's counts of both versions. */
export interface ComparisonSample {
  canary: Counts;
  stable: Counts;
}

/** Everything the test has seen: running totals, and the running log likelihood ratios per alternative. */
export interface Evidence {
  /** The margin the log ratios were computed against; evidence for another margin starts over. */
  maxIncrease: number;
  canary: Counts;
  stable: Counts;
  /** log LR of each worse alternative (`alternatives(maxIncrease).worse`) against rho0, summed over windows. */
  logWorse: number[];
  /** log LR of each no-worse alternative against rho0, summed over windows. */
  logNoWorse: number[];
}

export type ComparisonVerdict = "worse" | "no-worse" | "undecided";

export const DEFAULT_CONFIDENCE = 0.99;

/** One side's mixture: rate ratios rho (canary's bad rate over the stable's) and their prior weights, summing to 1. */
export interface Mixture {
  rho: readonly number[];
  weight: readonly number[];
}

/** Alternatives per side. The first mixture had 16: evidence kept by it has another length, and starts over. */
export const ALTERNATIVES = 24;

/** How far the alternatives reach: the farthest is 20 times as far from the margin, in log ratio, as the nearest. */
const SPAN = 20;

/**
 * The mixtures for a margin. Each side's alternatives are log(rho / rho0) = +-theta, theta spaced
 * evenly in log from theta_min to SPAN x theta_min, each weighted in proportion to 1/sqrt(theta) (a
 * prior density of about theta^-1.5): the near ones, which need the most bad requests to show, get the
 * most weight; the far ones are shown by a few bad requests and can afford less. Tuned on
 * bench/judgment.ts (docs/performance.md); weights of 1/theta win ~2 points of power at 2x and lose
 * as much where bad requests are few.
 *   worse:    theta_min = log(1 + m/3), a third of the margin beyond it (m = 0.5: canary 1.75x stable);
 *   no worse: theta_min = log(1 + m/2), so that a canary as good as stable (theta = log(1 + m)) is well inside.
 */
export function alternatives(maxIncrease: number): { worse: Mixture; noWorse: Mixture } {
  const rho0 = 1 + maxIncrease;
  const side = (nearest: number, sign: 1 | -1): Mixture => {
    const theta = Array.from({ length: ALTERNATIVES }, (_, i) => nearest * SPAN ** (i / (ALTERNATIVES - 1)));
    const raw = theta.map((t) => 1 / Math.sqrt(t));
    const total = raw.reduce((sum, r) => sum + r, 0);
    return { rho: theta.map((t) => rho0 * Math.exp(sign * t)), weight: raw.map((r) => r / total) };
  };
  return { worse: side(Math.log(1 + maxIncrease / 3), 1), noWorse: side(Math.log(1 + maxIncrease / 2), -1) };
}

export function emptyEvidence(maxIncrease: number): Evidence {
  return {
    maxIncrease,
    canary: { requests: 0, bad: 0 },
    stable: { requests: 0, bad: 0 },
    logWorse: Array.from({ length: ALTERNATIVES }, () => 0),
    logNoWorse: Array.from({ length: ALTERNATIVES }, () => 0),
  };
}

/** The stored evidence when it was collected for this margin by this mixture; otherwise none yet. */
export function continueEvidence(stored: Evidence | undefined, maxIncrease: number): Evidence {
  const fits = stored !== undefined && stored.maxIncrease === maxIncrease && stored.logWorse.length === ALTERNATIVES && stored.logNoWorse.length === ALTERNATIVES;
  return fits ? stored : emptyEvidence(maxIncrease);
}

/** The canary's probability of owning a bad request, for canary traffic share w and rate ratio rho. */
export function canaryShare(rho: number, w: number): number {
  return (rho * w) / (rho * w + 1 - w);
}

/**
 * log LR of ratio `rho` against `rho0` for one window: `x` of its `k` bad requests were the
 * canary's, which had share `w` of the requests.
 */
export function windowLogRatio(rho: number, rho0: number, w: number, x: number, k: number): number {
  const p = canaryShare(rho, w);
  const p0 = canaryShare(rho0, w);
  return (x > 0 ? x * Math.log(p / p0) : 0) + (k - x > 0 ? (k - x) * Math.log((1 - p) / (1 - p0)) : 0);
}

/** The evidence with one more window added. Counts are clamped to sane values (bad <= requests, >= 0). */
export function addSample(evidence: Evidence, sample: ComparisonSample): Evidence {
  const canary = clean(sample.canary);
  const stable = clean(sample.stable);
  const next: Evidence = {
    ...evidence,
    canary: { requests: evidence.canary.requests + canary.requests, bad: evidence.canary.bad + canary.bad },
    stable: { requests: evidence.stable.requests + stable.requests, bad: evidence.stable.bad + stable.bad },
  };
  const k = canary.bad + stable.bad;
  // A window without bad requests, or without traffic to one version, says nothing about the ratio.
  if (k === 0 || canary.requests === 0 || stable.requests === 0) return next;
  const w = canary.requests / (canary.requests + stable.requests);
  const rho0 = 1 + evidence.maxIncrease;
  const { worse, noWorse } = alternatives(evidence.maxIncrease);
  next.logWorse = evidence.logWorse.map((sum, i) => sum + windowLogRatio(worse.rho[i] ?? rho0, rho0, w, canary.bad, k));
  next.logNoWorse = evidence.logNoWorse.map((sum, i) => sum + windowLogRatio(noWorse.rho[i] ?? rho0, rho0, w, canary.bad, k));
  return next;
}

/** The mixture e-value: the prior-weighted mean of exp(log LR), computed without overflow. */
export function mixtureEValue(logRatios: readonly number[], weights: readonly number[]): number {
  const terms = logRatios.map((l, i) => l + Math.log(weights[i] ?? 0));
  const top = Math.max(...terms);
  if (!Number.isFinite(top)) return logRatios.length === 0 ? 1 : Math.exp(top);
  return Math.exp(top + Math.log(terms.reduce((total, t) => total + Math.exp(t - top), 0)));
}

/** Worse when the worse e-value reaches 1/(1 - confidence); no worse when the other one does. */
export function judge(evidence: Evidence, confidence: number): { verdict: ComparisonVerdict; worse: number; noWorse: number } {
  const mixtures = alternatives(evidence.maxIncrease);
  const worse = mixtureEValue(evidence.logWorse, mixtures.worse.weight);
  const noWorse = mixtureEValue(evidence.logNoWorse, mixtures.noWorse.weight);
  const bar = 1 / (1 - confidence);
  const verdict = worse >= bar ? "worse" : noWorse >= bar ? "no-worse" : "undecided";
  return { verdict, worse, noWorse };
}

function clean(counts: Counts): Counts {
  const requests = Number.isFinite(counts.requests) ? Math.max(0, counts.requests) : 0;
  const bad = Number.isFinite(counts.bad) ? Math.min(requests, Math.max(0, counts.bad)) : 0;
  return { requests, bad };
}

/** What is compared, in words: "error rate", or "requests slower than 250 ms". */
export type Measure = { kind: "errors" } | { kind: "slow"; slowerThanMs: number };

/**
 * The evidence in words a person reads:
 * "v2 error rate 0.41% vs v1 0.38% over 1,204 requests: no worse (99% confidence)".
 */
export function describeEvidence(evidence: Evidence, verdict: ComparisonVerdict, names: { canary: string; stable: string }, measure: Measure, confidence: number): string {
  const what = measure.kind === "errors" ? "error rate" : `requests slower than ${measure.slowerThanMs} ms`;
  const canaryRequests = Math.round(evidence.canary.requests);
  if (canaryRequests === 0) return `no ${names.canary} requests yet: nothing to compare`;
  const shown = `${names.canary} ${what} ${percent(evidence.canary)} vs ${names.stable} ${percent(evidence.stable)} over ${canaryRequests.toLocaleString("en-US")} requests`;
  const sure = `${Number((confidence * 100).toPrecision(4))}% confidence`;
  if (verdict === "worse") return `${shown}: worse by more than ${Number((evidence.maxIncrease * 100).toPrecision(4))}% (${sure})`;
  if (verdict === "no-worse") return `${shown}: no worse (${sure})`;
  const nothingBad = evidence.canary.bad + evidence.stable.bad === 0;
  return `${shown}: ${nothingBad ? "no bad requests in either version yet" : "not decided yet"} (${sure} needed)`;
}

function percent(counts: Counts): string {
  if (counts.requests === 0) return "-";
  const share = (100 * counts.bad) / counts.requests;
  return `${share === 0 ? "0" : share < 0.01 ? share.toPrecision(1) : share.toFixed(2)}%`;
}
