/** Drives the pure engine through a release the way the controller would, with no I/O at all. */
import { decide, desiredTraffic, type Decision, type Effect, type MetricResult, type Observation } from "../../../src/rollout/engine.js";
import type { Rollout } from "../../../src/rollout/model.js";
import { RolloutSpecSchema, type RolloutSpecInput } from "../../../src/rollout/schema.js";
import type { CheckOutcome, RolloutStatus } from "../../../src/rollout/status.js";

export const T0 = Date.parse("2026-01-01T00:00:00.000Z");

export function makeRollout(overrides: Partial<RolloutSpecInput> = {}, heldAbort?: string): Rollout {
  const spec = RolloutSpecSchema.parse({
    service: "reviews",
    version: "v1",
    trafficRouting: { istio: { virtualService: { name: "reviews" } } },
    steps: [{ setWeight: 10 }, { pause: "1m" }, { setWeight: 50 }, { pause: "1m" }],
    analysis: { interval: "15s", metrics: [{ name: "success-rate", min: 0.99 }] },
    ...overrides,
  });
  return { name: "reviews", namespace: "bookinfo", spec, ...(heldAbort !== undefined ? { heldAbort } : {}) };
}

export function withVersion(rollout: Rollout, version: string, heldAbort?: string): Rollout {
  const next: Rollout = { ...rollout, spec: { ...rollout.spec, version } };
  if (heldAbort === undefined) delete next.heldAbort;
  else next.heldAbort = heldAbort;
  return next;
}

export function result(outcome: CheckOutcome, value: number | null = outcome === "pass" ? 1 : 0.5, name = "success-rate"): MetricResult {
  return { name, outcome, value, message: outcome === "pass" ? `${value} >= 0.99` : outcome === "fail" ? `${value} < 0.99` : outcome };
}

/**
 * A controller without I/O: keeps status, applies traffic instantly (unless told to fail),
 * runs analysis runs with the outcome the test chooses, and records every effect.
 */
export class Simulation {
  status: RolloutStatus | undefined;
  now = T0;
  effects: Effect[] = [];
  decisions: Decision[] = [];
  trafficFails = false;

  constructor(public rollout: Rollout) {}

  /** Feeds one observation, then confirms traffic as a healthy mesh would. */
  observe(observation: Observation): Decision {
    const decision = this.apply(observation);
    this.confirmTraffic();
    return decision;
  }

  private apply(observation: Observation): Decision {
    const decision = decide(this.rollout, this.status, observation, this.now);
    this.decisions.push(decision);
    this.effects.push(...decision.effects);
    this.status = decision.status;
    return decision;
  }

  /** Applies the traffic each decision asked for, as the controller does, until none is asked. */
  confirmTraffic(): void {
    for (let i = 0; i < 20 && this.status; i++) {
      const last = this.decisions.at(-1);
      if (!last?.effects.some((e) => e.type === "setTraffic")) return;
      const wanted = desiredTraffic(this.rollout, this.status);
      this.apply(this.trafficFails ? { type: "traffic", traffic: wanted, applied: false, error: "connection refused" } : { type: "traffic", traffic: wanted, applied: true });
      if (this.trafficFails) return;
    }
  }

  start(): this {
    this.observe({ type: "specChanged" });
    return this;
  }

  release(version: string, heldAbort?: string): Decision {
    this.rollout = withVersion(this.rollout, version, heldAbort);
    return this.observe({ type: "specChanged" });
  }

  /** Moves the clock to the pending analysis run and reports `outcomes` for it. */
  check(...outcomes: CheckOutcome[]): Decision {
    const release = this.status?.release;
    if (!release?.nextAnalysisAt) throw new Error(`no analysis is scheduled (phase ${this.status?.phase}, message ${this.status?.message})`);
    const scheduledFor = Date.parse(release.nextAnalysisAt);
    this.now = Math.max(this.now, scheduledFor);
    const results = outcomes.map((o, i) => result(o, undefined, i === 0 ? "success-rate" : `m${i}`));
    return this.observe({ type: "analysis", releaseId: release.id, stepIndex: release.stepIndex, scheduledFor, results });
  }

  tickAt(ms: number): Decision {
    this.now = ms;
    return this.observe({ type: "tick" });
  }

  advanceBy(ms: number): Decision {
    return this.tickAt(this.now + ms);
  }

  command(command: "abort" | "promote" | "pause" | "resume" | "retry", value = "", user = "alice"): Decision {
    return this.observe({ type: "command", command, value, source: "annotation", user });
  }

  /** Passes every check until the release ends or `limit` checks ran. */
  passUntilDone(limit = 50): void {
    for (let i = 0; i < limit && this.status?.release; i++) {
      if (this.status.phase === "Paused") return;
      if (this.status.release.nextAnalysisAt) this.check("pass");
      else this.advanceBy(1_000);
    }
  }

  notifications(): string[] {
    return this.effects.flatMap((e) => (e.type === "notify" ? [e.event.kind] : []));
  }

  trafficWrites(): { stable: string; canary?: string; weight: number; header: boolean }[] {
    return this.effects.flatMap((e) =>
      e.type === "setTraffic"
        ? [{ stable: e.traffic.stableVersion, ...(e.traffic.canaryVersion ? { canary: e.traffic.canaryVersion } : {}), weight: e.traffic.canaryWeight, header: e.traffic.headerRoute !== undefined }]
        : [],
    );
  }
}
