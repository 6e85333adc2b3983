/**
 * Judgment on simulated canaries: the fixed threshold against the comparison with stable.
 * A labelled, seeded set of canaries, each fed window by window (15 s) to the same judging code
 * the controller uses: classify() for `success-rate min: 0.99` (minRequests 20, failureLimit 0,
 * README steps: 10% then 50%, four checks each) and rollout/judgment.ts for
 * `compare: { maxIncrease: 0.5 }` at 99% confidence (10% for four windows, then 50%, until a
 * verdict or a 10-minute progress deadline). No Prometheus: counts come from the simulation.
 * Then the comparison's expected requests against a fixed-size test of the same power and alpha,
 * and how many 2x regressions are caught by a 10, 15 or 20-minute deadline, against the first
 * version's mixture, a test that knows the answer (about the most any can do), and a fixed-size test at the deadline.
 * Last, windows as Prometheus gives them at a 15 s interval (rate over [1m] x 15 s, so each run's
 * window reaches 45 s back), with and without the runs whose window began before their step.
 * Run: npx tsx bench/judgment.ts [runs per case]
 */
import { classify } from "../src/analysis/classify.js";
import { addSample, canaryShare, emptyEvidence, judge, mixtureEValue, windowLogRatio, type ComparisonSample, type Mixture } from "../src/rollout/judgment.js";
import { seededRandom, simulateWindow, type CanaryScenario } from "../test/unit/judgment-simulation.js";

const runs = Number(process.argv[2] ?? 1_000);
const WINDOW_S = 15;
const DEADLINE_WINDOWS = 40;
const CONFIDENCE = 0.99;
const MAX_INCREASE = 0.5;

interface Case {
  label: string;
  healthy: boolean;
  scenario: Omit<CanaryScenario, "canaryWeight" | "windowSeconds">;
  /** No fixed-threshold figure: the counts are slow requests, not errors. */
  latency?: boolean;
}

const cases: Case[] = [
  ...[5, 20, 200].flatMap((rps) =>
    [0.001, 0.005, 0.02].map((baseline) => ({ label: `healthy ${rps} req/s, ${baseline * 100}% errors`, healthy: true, scenario: { requestsPerSecond: rps, baseline, ratio: 1 } })),
  ),
  { label: "healthy 50 req/s, 0.3% errors drifting (sigma 0.5)", healthy: true, scenario: { requestsPerSecond: 50, baseline: 0.003, ratio: 1, noise: 0.5 } },
  { label: "low traffic 1 req/s, 0.5% errors", healthy: true, scenario: { requestsPerSecond: 1, baseline: 0.005, ratio: 1 } },
  ...[20, 200].flatMap((rps) => [2, 10].map((ratio) => ({ label: `${ratio}x errors, ${rps} req/s, 0.5% baseline`, healthy: false, scenario: { requestsPerSecond: rps, baseline: 0.005, ratio } }))),
  { label: "2x errors, 200 req/s, 2% baseline", healthy: false, scenario: { requestsPerSecond: 200, baseline: 0.02, ratio: 2 } },
  // +30% p99 of a log-normal latency (sigma 0.5): 2% of stable above the p99 bucket's lower bound, 6.3% of the canary.
  { label: "latency +30% p99, 200 req/s", healthy: false, latency: true, scenario: { requestsPerSecond: 200, baseline: 0.02, ratio: 3.15 } },
  { label: "gross failure: 30% errors, 200 req/s", healthy: false, scenario: { requestsPerSecond: 200, baseline: 0.3, ratio: 1 / 0.3 } },
];

type Verdict = "rolled back" | "promoted" | "inconclusive";
interface Outcome {
  verdict: Verdict;
  requests: number;
  seconds: number;
}

const weightAt = (window: number) => (window < 4 ? 10 : 50);

function fixedThreshold(random: () => number, scenario: Case["scenario"]): Outcome {
  let requests = 0;
  for (let step = 0; step < 2; step++) {
    let passed = false;
    for (let check = 0; check < 4; check++) {
      const window = step * 4 + check;
      const sample = simulateWindow(random, { ...scenario, canaryWeight: weightAt(window), windowSeconds: WINDOW_S });
      requests += sample.canary.requests;
      const traffic = sample.canary.requests >= 20 ? { kind: "enough" as const } : { kind: "too-little" as const, message: "" };
      const rate = sample.canary.requests > 0 ? 1 - sample.canary.bad / sample.canary.requests : Number.NaN;
      const result = classify({ name: "success-rate", min: 0.99 }, { kind: "value", value: rate }, traffic);
      if (result.outcome === "fail") return { verdict: "rolled back", requests, seconds: (window + 1) * WINDOW_S };
      passed ||= result.outcome === "pass";
    }
    if (!passed) return { verdict: "inconclusive", requests, seconds: 8 * WINDOW_S };
  }
  return { verdict: "promoted", requests, seconds: 8 * WINDOW_S };
}

function comparison(random: () => number, scenario: Case["scenario"]): Outcome {
  let evidence = emptyEvidence(MAX_INCREASE);
  for (let window = 0; window < DEADLINE_WINDOWS; window++) {
    evidence = addSample(evidence, simulateWindow(random, { ...scenario, canaryWeight: weightAt(window), windowSeconds: WINDOW_S }));
    const { verdict } = judge(evidence, CONFIDENCE);
    const seconds = (window + 1) * WINDOW_S;
    if (verdict === "worse") return { verdict: "rolled back", requests: evidence.canary.requests, seconds };
    if (verdict === "no-worse") return { verdict: "promoted", requests: evidence.canary.requests, seconds };
  }
  return { verdict: "inconclusive", requests: evidence.canary.requests, seconds: DEADLINE_WINDOWS * WINDOW_S };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The z with normalCdf(z) = p, by bisection. */
function normalQuantile(p: number): number {
  let [low, high] = [-10, 10];
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (normalCdf(mid) < p) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

const FIXED_WEIGHT = 0.5;

/**
 * Canary requests a fixed-size test needs: the one-sided test on the same statistic as the
 * sequential one (of K bad requests at canary share w, how many were the canary's), H0 at the
 * margin, alpha 1 - confidence, sized by the normal approximation for `power` against the case's
 * true ratio, at a fixed 50% weight; K bad requests come with K * w / (w p_c + (1-w) p_s) canary requests.
 */
function fixedSampleRequests(scenario: Case["scenario"], power: number): number {
  const w = FIXED_WEIGHT;
  const stableBad = Math.min(1, scenario.baseline);
  const canaryBad = Math.min(1, scenario.baseline * scenario.ratio);
  const p0 = canaryShare(1 + MAX_INCREASE, w);
  const p1 = canaryShare(canaryBad / stableBad, w);
  const [zAlpha, zBeta] = [normalQuantile(CONFIDENCE), normalQuantile(power)];
  const bad = ((zAlpha * Math.sqrt(p0 * (1 - p0)) + zBeta * Math.sqrt(p1 * (1 - p1))) / (p1 - p0)) ** 2;
  return (bad * w) / (w * canaryBad + (1 - w) * stableBad);
}

function summarize(outcomes: Outcome[]): string {
  const share = (v: Verdict) => `${((100 * outcomes.filter((o) => o.verdict === v).length) / outcomes.length).toFixed(1)}%`.padStart(6);
  const decided = outcomes.filter((o) => o.verdict !== "inconclusive");
  const to = decided.length > 0 ? `${String(Math.round(median(decided.map((o) => o.requests)))).padStart(6)} req ${String(median(decided.map((o) => o.seconds))).padStart(4)} s` : "     - req    - s";
  return `${share("rolled back")} ${share("promoted")} ${share("inconclusive")}  ${to}`;
}

console.log(`${runs} runs per case; rolled back / promoted / inconclusive, median canary requests and seconds to a decision`);
console.log(`${"case".padEnd(52)} | ${"fixed threshold (min 0.99)".padEnd(42)} | comparison (maxIncrease 0.5, 99%)`);
const fixedRows: string[] = [];
cases.forEach((c, index) => {
  const threshold = c.latency ? "n/a (a p99 threshold needs latencies)" : summarize(Array.from({ length: runs }, (_, run) => fixedThreshold(seededRandom(1_000_003 * index + run), c.scenario)));
  const outcomes = Array.from({ length: runs }, (_, run) => comparison(seededRandom(2_000_003 * index + run), c.scenario));
  console.log(`${c.label.padEnd(52)} | ${threshold.padEnd(42)} | ${summarize(outcomes)}`);
  // Power: the share decided rightly (healthy: promoted; regression: rolled back) within the deadline.
  const power = outcomes.filter((o) => o.verdict === (c.healthy ? "promoted" : "rolled back")).length / outcomes.length;
  if (power < 0.5) return;
  const fixed = fixedSampleRequests(c.scenario, Math.min(power, CONFIDENCE));
  const mean = outcomes.reduce((sum, o) => sum + o.requests, 0) / outcomes.length;
  fixedRows.push(
    `${c.label.padEnd(52)} | ${`${(100 * power).toFixed(1)}%`.padStart(6)} ${String(Math.round(mean)).padStart(7)} req | ${String(Math.round(fixed)).padStart(7)} req | ${(mean / fixed).toFixed(2)}`,
  );
});
console.log();
console.log("Comparison against a fixed-size test of the same power (cases with power >= 50%; alpha 1%, 50% weight):");
console.log(`${"case".padEnd(52)} | power, mean canary req (all runs) | fixed-size test | sequential / fixed`);
for (const row of fixedRows) console.log(row);

/** The first version's mixture, kept to compare with: 16 alternatives rho0 * 2^(i/4), i = 1..16, equal weights. */
const FIRST_GRID: Mixture = { rho: Array.from({ length: 16 }, (_, i) => (1 + MAX_INCREASE) * 2 ** ((i + 1) / 4)), weight: Array.from({ length: 16 }, () => 1 / 16) };
/** A single alternative at the true ratio: about the most a test of this statistic can get from the evidence, as it knows the answer. */
const AT_TRUE_RATIO: Mixture = { rho: [2], weight: [1] };

/** The window (1-based) at which the worse side over `mixture` reaches 1/(1 - confidence), or Infinity. */
function windowOfWorse(random: () => number, scenario: Case["scenario"], mixture: Mixture, windows: number): number {
  const rho0 = 1 + MAX_INCREASE;
  const logs = mixture.rho.map(() => 0);
  for (let window = 0; window < windows; window++) {
    const { canary, stable } = simulateWindow(random, { ...scenario, canaryWeight: weightAt(window), windowSeconds: WINDOW_S });
    const k = canary.bad + stable.bad;
    if (k > 0 && canary.requests > 0 && stable.requests > 0) {
      const w = canary.requests / (canary.requests + stable.requests);
      mixture.rho.forEach((rho, i) => (logs[i] = (logs[i] ?? 0) + windowLogRatio(rho, rho0, w, canary.bad, k)));
    }
    if (mixtureEValue(logs, mixture.weight) >= 1 / (1 - CONFIDENCE)) return window + 1;
  }
  return Number.POSITIVE_INFINITY;
}

/** The same, through the controller's own code (addSample, judge); a no-worse verdict ends the run undecided. */
function windowOfWorseJudged(random: () => number, scenario: Case["scenario"], windows: number): number {
  let evidence = emptyEvidence(MAX_INCREASE);
  for (let window = 0; window < windows; window++) {
    evidence = addSample(evidence, simulateWindow(random, { ...scenario, canaryWeight: weightAt(window), windowSeconds: WINDOW_S }));
    const { verdict } = judge(evidence, CONFIDENCE);
    if (verdict === "worse") return window + 1;
    if (verdict === "no-worse") break;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Power of a one-sided test run once at the deadline on the same statistic (the canary's bad
 * requests given all bad requests, summed over windows, H0 at the margin, alpha 1 - confidence),
 * by the normal approximation with the expected counts. Valid only if looked at once.
 */
function fixedHorizonPower(scenario: Case["scenario"], windows: number): number {
  let [shift, null0, alt1] = [0, 0, 0];
  for (let window = 0; window < windows; window++) {
    const w = weightAt(window) / 100;
    const requests = scenario.requestsPerSecond * WINDOW_S;
    const bad = requests * w * scenario.baseline * scenario.ratio + requests * (1 - w) * scenario.baseline;
    const [p0, p1] = [canaryShare(1 + MAX_INCREASE, w), canaryShare(scenario.ratio, w)];
    shift += bad * (p1 - p0);
    null0 += bad * p0 * (1 - p0);
    alt1 += bad * p1 * (1 - p1);
  }
  return normalCdf((shift - normalQuantile(CONFIDENCE) * Math.sqrt(null0)) / Math.sqrt(alt1));
}

const goal = cases.find((c) => c.label === "2x errors, 200 req/s, 0.5% baseline");
if (goal) {
  const deadlines = [40, 60, 80];
  const caught = (windowsOf: (random: () => number) => number) => {
    const found = Array.from({ length: runs }, (_, run) => windowsOf(seededRandom(3_000_003 + run)));
    return deadlines.map((d) => `${((100 * found.filter((w) => w <= d).length) / runs).toFixed(1)}%`.padStart(8)).join(" ");
  };
  console.log();
  console.log(`${goal.label}: share caught (rolled back) by a deadline of ${deadlines.map((d) => `${(d * WINDOW_S) / 60} min`).join(" / ")}`);
  console.log(`${"this mixture (rollout/judgment.ts)".padEnd(62)} | ${caught((random) => windowOfWorseJudged(random, goal.scenario, 80))}`);
  console.log(`${"the first version's mixture (16 alternatives, equal weights)".padEnd(62)} | ${caught((random) => windowOfWorse(random, goal.scenario, FIRST_GRID, 80))}`);
  console.log(`${"one alternative at exactly 2x (knows the answer; ~ the ceiling)".padEnd(62)} | ${caught((random) => windowOfWorse(random, goal.scenario, AT_TRUE_RATIO, 80))}`);
  console.log(`${"fixed-size test once at the deadline (not anytime-valid)".padEnd(62)} | ${deadlines.map((d) => `${(100 * fixedHorizonPower(goal.scenario, d)).toFixed(1)}%`.padStart(8)).join(" ")}`);
}

/** Minute-long windows, one run every 15 s: each run's counts are a quarter of the last four 15 s windows. */
const OVERLAP = 4;

/**
 * A run of the comparison on overlapping windows, 10% then 50% after three 15 s windows of stable
 * only; `leaveOut`: the engine's rule, a run whose window began before its step adds nothing.
 */
function overlappingVerdict(random: () => number, scenario: Case["scenario"], confidence: number, leaveOut: boolean): Verdict {
  const stepOf = (window: number) => (window < 0 ? -1 : window < 4 ? 0 : 1);
  const windows: ComparisonSample[] = [];
  for (let window = 1 - OVERLAP; window < DEADLINE_WINDOWS; window++) {
    windows.push(simulateWindow(random, { ...scenario, canaryWeight: window < 0 ? 0 : weightAt(window), windowSeconds: WINDOW_S }));
  }
  let evidence = emptyEvidence(MAX_INCREASE);
  for (let run = 0; run < DEADLINE_WINDOWS; run++) {
    const last = windows.slice(run, run + OVERLAP);
    const quarter = (pick: (w: ComparisonSample) => { requests: number; bad: number }) => ({
      requests: last.reduce((sum, w) => sum + pick(w).requests, 0) / OVERLAP,
      bad: last.reduce((sum, w) => sum + pick(w).bad, 0) / OVERLAP,
    });
    const straddles = stepOf(run + 1 - OVERLAP) !== stepOf(run);
    if (!(leaveOut && straddles)) evidence = addSample(evidence, { canary: quarter((w) => w.canary), stable: quarter((w) => w.stable) });
    const { verdict } = judge(evidence, confidence);
    if (verdict === "worse") return "rolled back";
    if (verdict === "no-worse") return "promoted";
  }
  return "inconclusive";
}

const straddleCases: { label: string; scenario: Case["scenario"]; confidence: number }[] = [
  { label: "at the margin (1.5x), 200 req/s, 2% errors drifting (sigma 0.5), 99%", scenario: { requestsPerSecond: 200, baseline: 0.02, ratio: 1.5, noise: 0.5 }, confidence: 0.99 },
  { label: "at the margin (1.5x), 200 req/s, 2% errors drifting (sigma 1), 90%", scenario: { requestsPerSecond: 200, baseline: 0.02, ratio: 1.5, noise: 1 }, confidence: 0.9 },
  { label: "2x errors, 200 req/s, 0.5% baseline, 99%", scenario: { requestsPerSecond: 200, baseline: 0.005, ratio: 2 }, confidence: 0.99 },
];
console.log();
console.log("Windows reaching 45 s back (rate over [1m] every 15 s); rolled back / promoted / inconclusive. At the margin both verdicts are wrong: each at most 1 - confidence.");
console.log(`${"case".padEnd(70)} | ${"every run counted".padEnd(22)} | runs reaching back before their step left out`);
straddleCases.forEach((c, index) => {
  const shares = (leaveOut: boolean) => {
    const verdicts = Array.from({ length: runs }, (_, run) => overlappingVerdict(seededRandom(4_000_003 * (index + 1) + run), c.scenario, c.confidence, leaveOut));
    return (["rolled back", "promoted", "inconclusive"] as const).map((v) => `${((100 * verdicts.filter((o) => o === v).length) / runs).toFixed(1)}%`.padStart(6)).join(" ");
  };
  console.log(`${c.label.padEnd(70)} | ${shares(false).padEnd(22)} | ${shares(true)}`);
});
