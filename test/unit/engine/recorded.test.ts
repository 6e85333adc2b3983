/**
 * The engine's decisions for two scripted releases, compared with a recording committed in
 * fixtures/recorded-decisions.json, so any change in what the engine decides (status, effects,
 * requeueAt, messages) shows up as a failing test and, once accepted, as a diff in review.
 *
 * After a deliberate change, re-record and review the fixture's diff like code:
 *   RECORD=1 npx vitest run --project unit test/unit/engine/recorded.test.ts
 * Without RECORD the test only compares; in CI (CI set) it refuses to record at all.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Decision, MetricResult } from "../../../src/rollout/engine.js";
import { makeRollout, Simulation, T0 } from "./harness.js";

const fixture = fileURLToPath(new URL("./fixtures/recorded-decisions.json", import.meta.url));
const recording = process.env.RECORD === "1";

/** One scripted action and every decision it led to (the first answers the action, the rest confirm traffic). */
interface RecordedAction {
  action: string;
  at: string;
  decisions: Decision[];
}

type Script = [action: string, run: (sim: Simulation) => unknown][];

const rollout = () =>
  makeRollout({
    steps: [{ setWeight: 10 }, { pause: "1m" }, { setHeaderRoute: { headers: { "x-canary": { exact: "true" } } } }, { setWeight: 50 }, { pause: {} }],
    analysis: {
      interval: "15s",
      failureLimit: 1,
      inconclusiveLimit: 3,
      onInconclusive: "pause",
      metrics: [
        { name: "success-rate", min: 0.99 },
        { name: "latency-p99", max: 500 },
      ],
    },
  });

/** Measurements by metric: a success rate, and a p99 latency in ms; null is no data. */
type Measured = { "success-rate": number | null; "latency-p99": number | null };

/** Moves the clock to the pending analysis run and reports what it measured. */
function check(sim: Simulation, measured: Measured): Decision {
  const release = sim.status?.release;
  if (!release?.nextAnalysisAt) throw new Error(`no analysis is scheduled (phase ${sim.status?.phase})`);
  const scheduledFor = Date.parse(release.nextAnalysisAt);
  sim.now = Math.max(sim.now, scheduledFor);
  const rate = measured["success-rate"];
  const p99 = measured["latency-p99"];
  const results: MetricResult[] = [
    rate === null
      ? { name: "success-rate", outcome: "inconclusive", value: null, message: "12 requests < 20" }
      : { name: "success-rate", outcome: rate >= 0.99 ? "pass" : "fail", value: rate, message: `${rate} ${rate >= 0.99 ? ">=" : "<"} 0.99` },
    p99 === null
      ? { name: "latency-p99", outcome: "inconclusive", value: null, message: "no data" }
      : { name: "latency-p99", outcome: p99 <= 500 ? "pass" : "fail", value: p99, message: `${p99} ${p99 <= 500 ? "<=" : ">"} 500` },
  ];
  return sim.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex, scheduledFor, results });
}

const healthy: Measured = { "success-rate": 0.998, "latency-p99": 180 };

const scripts: Record<string, Script> = {
  "v2 is promoted after checks that pass, fail once and come back inconclusive, a pause, a resume and a promote": [
    ["first sighting: v1 adopted", (sim) => sim.start()],
    ["v2 committed", (sim) => sim.release("v2")],
    ["check: pass", (sim) => check(sim, healthy)],
    ["check: inconclusive, too few requests", (sim) => check(sim, { "success-rate": null, "latency-p99": 190 })],
    ["command: pause", (sim) => sim.command("pause", "", "alice")],
    ["tick 5m later", (sim) => sim.advanceBy(300_000)],
    ["command: resume", (sim) => sim.command("resume", "", "alice")],
    ["check: fail, latency (within failureLimit)", (sim) => check(sim, { "success-rate": 0.995, "latency-p99": 620 })],
    ["check: pass", (sim) => check(sim, healthy)],
    ["check: pass, the 1m pause is over", (sim) => check(sim, healthy)],
    ["guard: 200 requests, 2 errors", (sim) => sim.observe({ type: "guard", releaseId: 1, requests: 200, errors: 2 })],
    ["check: pass at the manual gate", (sim) => check(sim, healthy)],
    ["command: promote step", (sim) => sim.command("promote", "step", "bob")],
    ["tick 1m later", (sim) => sim.advanceBy(60_000)],
  ],
  "v3 is rolled back after failed checks, retried, and aborted": [
    ["first sighting: v2 adopted", (sim) => sim.start()],
    ["v3 committed", (sim) => sim.release("v3")],
    ["check: pass", (sim) => check(sim, healthy)],
    ["check: fail, success rate", (sim) => check(sim, { "success-rate": 0.91, "latency-p99": 200 })],
    ["check: fail again, beyond failureLimit", (sim) => check(sim, { "success-rate": 0.9, "latency-p99": 210 })],
    ["tick 10m later", (sim) => sim.advanceBy(600_000)],
    ["command: retry", (sim) => sim.command("retry", "", "carol")],
    ["check: inconclusive, no data", (sim) => check(sim, { "success-rate": null, "latency-p99": null })],
    ["command: abort", (sim) => sim.command("abort", "bad latency", "carol")],
    ["tick 1m later", (sim) => sim.advanceBy(60_000)],
  ],
};

function play(script: Script, version: string): RecordedAction[] {
  const sim = new Simulation({ ...rollout(), spec: { ...rollout().spec, version } });
  expect(sim.now).toBe(T0);
  return script.map(([action, run]) => {
    const from = sim.decisions.length;
    run(sim);
    // Through JSON, as the fixture is: undefined fields vanish the same way on both sides.
    return JSON.parse(JSON.stringify({ action, at: new Date(sim.now).toISOString(), decisions: sim.decisions.slice(from) })) as RecordedAction;
  });
}

/** Plays every script; the first starts from v1, the second from v2. */
const playAll = (): Record<string, RecordedAction[]> => Object.fromEntries(Object.entries(scripts).map(([name, script], i) => [name, play(script, i === 0 ? "v1" : "v2")]));

describe("the engine's recorded decisions", () => {
  if (recording) {
    it("are re-recorded (RECORD=1)", () => {
      if (process.env.CI) throw new Error("RECORD=1 in CI: record on your machine and commit the fixture");
      writeFileSync(fixture, `${JSON.stringify(playAll(), null, 2)}\n`);
    });
    return;
  }
  const recorded = existsSync(fixture) ? (JSON.parse(readFileSync(fixture, "utf8")) as Record<string, RecordedAction[]>) : {};

  it("cover the same scripts as the recording", () => {
    expect(Object.keys(scripts), "scripts changed: re-record with RECORD=1").toEqual(Object.keys(recorded));
  });

  for (const [i, [name, script]] of Object.entries(scripts).entries()) {
    it(`are unchanged: ${name}`, () => {
      const before = recorded[name] ?? [];
      const steps = play(script, i === 0 ? "v1" : "v2");
      // Action by action, so a failure names the first action whose decisions changed.
      for (const [n, step] of steps.entries()) expect(step, `action ${n + 1}, "${step.action}" (re-record with RECORD=1 if the change is meant)`).toEqual(before[n]);
      expect(steps.length).toBe(before.length);
    });
  }
});
