import { describe, expect, it } from "vitest";
import { decide, desiredTraffic, ROUTE_RECHECK_MS, type Decision, type Observation } from "../../../src/rollout/engine.js";
import type { RolloutStatus } from "../../../src/rollout/status.js";
import { makeRollout, Simulation, T0, withVersion } from "./harness.js";

const conflict = { ownedBy: "bookinfo/reviews-a", message: "route primary of VirtualService reviews is managed by Rollout bookinfo/reviews-a: name another route" };
const rollout = { ...withVersion(makeRollout(), "v5"), name: "reviews-b" };
const kinds = (decision: Decision) => decision.effects.map((e) => (e.type === "notify" ? e.event.kind : e.type));

function refusedAtSighting(): RolloutStatus {
  const decision = decide(rollout, undefined, { type: "specChanged", liveVersion: "v2", routeConflict: conflict }, T0);
  if (!decision.status) throw new Error("no status");
  return decision.status;
}

describe("a Rollout whose route another Rollout manages", () => {
  it("is Refused on first sighting: nothing adopted, no traffic asked for, told once as a warning", () => {
    const decision = decide(rollout, undefined, { type: "specChanged", liveVersion: "v2", routeConflict: conflict }, T0);
    expect(decision.status).toMatchObject({ phase: "Refused", stableVersion: "", message: `refused: ${conflict.message}` });
    expect(decision.status?.conditions.filter((c) => c.type !== "Valid")).toEqual([
      { type: "TrafficApplied", status: "False", reason: "RouteOwnedByOther", message: conflict.message, lastTransitionTime: new Date(T0).toISOString() },
    ]);
    expect(kinds(decision)).toEqual(["refused"]);
    expect(decision.effects[0]).toMatchObject({ event: { severity: "warning", message: `reviews-b: refused: ${conflict.message}`, details: { owner: "bookinfo/reviews-a" } } });
    expect(decision.requeueAt).toBe(T0 + ROUTE_RECHECK_MS);
  });

  it.each<[string, Observation]>([
    ["abort", { type: "command", command: "abort", value: "bad", source: "annotation", user: "alice" }],
    ["promote full", { type: "command", command: "promote", value: "full", source: "annotation", user: "alice" }],
    ["pause", { type: "command", command: "pause", value: "", source: "cli" }],
    ["resume", { type: "command", command: "resume", value: "", source: "cli" }],
    ["retry", { type: "command", command: "retry", value: "", source: "annotation" }],
  ])("records a %s command as ignored, saying why, and asks for no traffic", (_, command) => {
    const decision = decide(rollout, refusedAtSighting(), command, T0 + 1_000);
    expect(decision.status?.phase).toBe("Refused");
    expect(decision.status?.commands.at(-1)?.result).toBe(`ignored: ${conflict.message}`);
    expect(kinds(decision)).toEqual(["command-ignored"]);
  });

  it.each<[string, Observation]>([
    ["a new version in git", { type: "specChanged" }],
    ["a tick", { type: "tick" }],
    ["an analysis result", { type: "analysis", releaseId: 1, stepIndex: 0, scheduledFor: T0, results: [] }],
    ["a guard reading", { type: "guard", releaseId: 1, requests: 100, errors: 90 }],
    ["another look at a route still owned", { type: "routeCheck", liveVersion: "v2", routeConflict: conflict }],
  ])("changes nothing on %s, tells nobody again, and looks again later", (_, observation) => {
    const before = refusedAtSighting();
    const decision = decide(withVersion(rollout, "v6"), before, observation, T0 + 5_000);
    expect(decision.status).toEqual(before);
    expect(decision.effects).toEqual([]);
    expect(decision.requeueAt).toBe(T0 + 5_000 + ROUTE_RECHECK_MS);
  });

  it("notes a new owner in its condition without telling anyone again", () => {
    const moved = { ownedBy: "bookinfo/reviews-c", message: "route primary of VirtualService reviews is managed by Rollout bookinfo/reviews-c: name another route" };
    const decision = decide(rollout, refusedAtSighting(), { type: "routeCheck", routeConflict: moved }, T0 + 5_000);
    expect(decision.status?.conditions.find((c) => c.type === "TrafficApplied")).toMatchObject({ reason: "RouteOwnedByOther", message: moved.message, lastTransitionTime: new Date(T0).toISOString() });
    expect(decision.effects).toEqual([]);
  });

  it("once the route is free, adopts what it serves and releases its own version from it as a canary", () => {
    const withCommand = decide(rollout, refusedAtSighting(), { type: "command", command: "promote", value: "full", source: "annotation" }, T0 + 1_000).status;
    const decision = decide(rollout, withCommand, { type: "routeCheck", liveVersion: "v2" }, T0 + 60_000);
    expect(decision.status).toMatchObject({ phase: "Progressing", stableVersion: "v2", canaryVersion: "v5", canaryWeight: 0 });
    expect(kinds(decision)).toEqual(["adopted", "setTraffic", "started", "setTraffic"]);
    expect(decision.effects.filter((e) => e.type === "setTraffic").at(-1)).toEqual({ type: "setTraffic", traffic: { stableVersion: "v2", canaryVersion: "v5", canaryWeight: 0 } });
    expect(decision.status?.commands).toHaveLength(1); // its record is kept
    expect(decision.status?.eventCount).toBe(4); // refused, command-ignored, then adopted and started: ids go on, none reused
  });

  it("once the route is free and serves none of its versions, adopts its own version as stable", () => {
    const decision = decide(rollout, refusedAtSighting(), { type: "routeCheck" }, T0 + 60_000);
    expect(decision.status).toMatchObject({ phase: "Healthy", stableVersion: "v5" });
  });
});

describe("a Rollout that finds its route taken while it runs", () => {
  function midRelease(): Simulation {
    const sim = new Simulation({ ...makeRollout(), name: "reviews-b" }).start();
    sim.release("v2");
    expect(sim.status).toMatchObject({ phase: "Progressing", canaryWeight: 10 });
    sim.check("pass");
    sim.advanceBy(60_000);
    return sim;
  }

  it("is Refused when a write reports the conflict, keeps the release frozen, and asks for no more traffic", () => {
    const sim = midRelease();
    const wanted = desiredTraffic(sim.rollout, sim.status!);
    const decision = sim.observe({ type: "traffic", traffic: wanted, applied: false, error: conflict.message, routeConflict: conflict });
    expect(sim.status).toMatchObject({ phase: "Refused", stableVersion: "v1", message: `refused: ${conflict.message}` });
    expect(sim.status?.release?.version).toBe("v2");
    expect(kinds(decision)).toEqual(["refused"]);
    expect(sim.command("promote", "full").effects.some((e) => e.type === "setTraffic")).toBe(false);
  });

  it("records the frozen release as superseded when it takes the route again, and starts over from what the route serves", () => {
    const sim = midRelease();
    sim.observe({ type: "traffic", traffic: desiredTraffic(sim.rollout, sim.status!), applied: false, error: conflict.message, routeConflict: conflict });
    sim.observe({ type: "routeCheck", liveVersion: "v1" });
    expect(sim.status?.history.at(-1)).toMatchObject({ version: "v2", fromVersion: "v1", outcome: "superseded", reason: "stopped while another Rollout managed the route" });
    expect(sim.status).toMatchObject({ phase: "Progressing", stableVersion: "v1", canaryVersion: "v2", releaseCount: 2 });
  });

  it("is not Refused by a traffic failure of another kind", () => {
    const sim = midRelease();
    sim.observe({ type: "traffic", traffic: desiredTraffic(sim.rollout, sim.status!), applied: false, error: "connection refused" });
    expect(sim.status?.phase).toBe("Progressing");
    expect(sim.status?.conditions.find((c) => c.type === "TrafficApplied")?.reason).toBe("ApplyFailed");
  });
});
