/**
 * Refusal: a route this Rollout names is managed by another Rollout (the traffic adapter finds
 * the owner recorded on the VirtualService). The Rollout is Refused: it asks for no traffic, its
 * commands are recorded as ignored, and the VirtualService is looked at again every
 * ROUTE_RECHECK_MS. Once the route is free it starts over as on first sighting (see decide.ts),
 * so its version reaches the route as a canary, never all at once.
 */
import type { Rollout } from "../model.js";
import type { RolloutStatus } from "../status.js";
import { recordCommand } from "./commands.js";
import { Draft } from "./context.js";
import type { Decision, Observation, RouteConflict } from "./types.js";

/** A conflict is settled by people (a Rollout deleted or edited), not by retrying fast. */
export const ROUTE_RECHECK_MS = 30_000;
export const ROUTE_REFUSED_REASON = "RouteOwnedByOther";

export function routeRefused(status: RolloutStatus | undefined): boolean {
  return status?.phase === "Refused";
}

/** The conflict an observation reports, if any. */
export function conflictOf(observation: Observation): RouteConflict | undefined {
  if (observation.type === "specChanged" || observation.type === "routeCheck") return observation.routeConflict;
  if (observation.type === "traffic" && !observation.applied) return observation.routeConflict;
  return undefined;
}

/** Marks the Rollout Refused; people are told when it becomes so, not at every look. */
export function refuse(draft: Draft, conflict: RouteConflict): void {
  const told = routeRefused(draft.status);
  draft.status.phase = "Refused";
  draft.status.message = `refused: ${conflict.message}`;
  draft.setCondition("TrafficApplied", "False", ROUTE_REFUSED_REASON, conflict.message);
  if (!told) draft.notify("refused", `${draft.rollout.name}: refused: ${conflict.message}`, { owner: conflict.ownedBy }, "warning");
  draft.wakeAt(draft.now + ROUTE_RECHECK_MS);
}

/** First sighting while another Rollout owns the route: nothing is adopted, so nothing is stable yet. */
export function refuseAtSighting(rollout: Rollout, conflict: RouteConflict, now: number): Decision {
  // Not yet Refused, so that refuse() tells people.
  const status: RolloutStatus = { phase: "Healthy", message: "", stableVersion: "", canaryWeight: 0, step: "", releaseCount: 0, conditions: [], history: [], commands: [] };
  const draft = new Draft(rollout, status, now);
  refuse(draft, conflict);
  return decision(draft);
}

/**
 * While Refused and the route is still owned: a command is recorded as ignored, a new owner or
 * message is noted, and everything else (spec changes, checks, ticks) waits for the route.
 */
export function holdRefused(rollout: Rollout, status: RolloutStatus, observation: Observation, now: number): Decision {
  const draft = new Draft(rollout, structuredClone(status), now);
  const conflict = conflictOf(observation);
  if (conflict) refuse(draft, conflict);
  if (observation.type === "command") {
    const why = draft.status.conditions.find((c) => c.type === "TrafficApplied")?.message ?? "a route it names is managed by another Rollout";
    recordCommand(draft, observation, `ignored: ${why}`);
  }
  draft.wakeAt(now + ROUTE_RECHECK_MS);
  return decision(draft);
}

function decision(draft: Draft): Decision {
  return { status: draft.status, effects: draft.effects, ...(draft.requeueAt !== undefined ? { requeueAt: draft.requeueAt } : {}) };
}
