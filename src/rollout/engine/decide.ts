/**
 * The release engine: a pure function from (Rollout, status, observation, now) to the next
 * status and the effects that make the world match it. No I/O, no clock, no randomness.
 */
import type { Rollout } from "../model.js";
import { HISTORY_LIMIT, type RolloutStatus } from "../status.js";
import { desiredTraffic, sameTraffic } from "../traffic.js";
import { recordAnalysis } from "./checks.js";
import { applyCommand } from "./commands.js";
import { Draft, withCondition } from "./context.js";
import { checkProgressDeadline } from "./deadline.js";
import { recordGuard, scheduleGuard } from "./guard.js";
import { recordReadiness } from "./readiness.js";
import { leftWorkloads, managesWorkloads, retireDue } from "./workload.js";
import { advance, dropRelease, failRelease, scheduleAnalysis, startRelease, summarize } from "./progress.js";
import { conflictOf, holdRefused, refuse, refuseAtSighting, routeRefused } from "./route.js";
import type { Decision, Observation } from "./types.js";

/** How long to wait before asking again for traffic that failed to apply, the first time. */
export const TRAFFIC_RETRY_MS = 5_000;
/** The longest wait between two tries of traffic that keeps failing. */
export const TRAFFIC_RETRY_MAX_MS = 5 * 60_000;

/**
 * The wait before the next try of traffic that has been failing since `failingSince` (the
 * TrafficApplied condition's transition to False): as long as it has been failing, so the waits
 * double (tries at 5, 10, 20, 40 s ... after the first failure), between TRAFFIC_RETRY_MS and
 * TRAFFIC_RETRY_MAX_MS. Derived from status alone; a success resets it (the condition turns True).
 */
export function trafficRetryDelay(failingSince: number | undefined, now: number): number {
  const failingFor = failingSince === undefined || Number.isNaN(failingSince) ? 0 : now - failingSince;
  return Math.min(TRAFFIC_RETRY_MAX_MS, Math.max(TRAFFIC_RETRY_MS, failingFor));
}

export function decide(rollout: Rollout, status: RolloutStatus | undefined, observation: Observation, now: number): Decision {
  const decision = decideFor(rollout, status, observation, now);
  if (decision.status) decision.status.conditions = validity(rollout, decision.status.conditions, now);
  return decision;
}

/** The Valid condition mirrors the git side's verdict on the Rollout's file (Rollout.invalidFile). */
function validity(rollout: Rollout, conditions: RolloutStatus["conditions"], now: number): RolloutStatus["conditions"] {
  const invalid = rollout.invalidFile;
  const condition =
    invalid === undefined
      ? { type: "Valid", status: "True" as const, reason: "Valid", message: "the Rollout in git is valid" }
      : { type: "Valid", status: "False" as const, reason: "InvalidFile", message: invalid };
  const existing = conditions.find((c) => c.type === "Valid");
  if (existing && existing.status === condition.status && existing.message === condition.message && existing.reason === condition.reason) return conditions;
  return withCondition(conditions, condition, new Date(now).toISOString());
}

function decideFor(rollout: Rollout, status: RolloutStatus | undefined, observation: Observation, now: number): Decision {
  if (observation.type === "removed") return remove(rollout, status, now);
  const conflict = conflictOf(observation);
  if (!status && conflict) return refuseAtSighting(rollout, conflict, now);
  if (status && routeRefused(status) && (observation.type !== "routeCheck" || conflict)) return holdRefused(rollout, status, observation, now);
  // First sighting, or a Refused Rollout whose route is free now: adopt what the route serves.
  const sighting = !status || routeRefused(status);
  const live = sighting && (observation.type === "specChanged" || observation.type === "routeCheck") ? observation.liveVersion : undefined;
  const draft = new Draft(rollout, status && !sighting ? structuredClone(status) : adopt(rollout, now, live, status), now);
  if (sighting) {
    const stable = draft.status.stableVersion;
    if (stable === rollout.spec.version) draft.notify("adopted", `${rollout.name}: ${stable} adopted as stable, 100% of traffic`);
    else draft.notify("adopted", `${rollout.name}: ${stable} adopted as stable, as the VirtualService already routes to it; ${rollout.spec.version} is released from it as a canary`);
    draft.driveTraffic();
    // With spec.workload the stable's Deployment is Tideway's too: made if missing, at full size.
    if (managesWorkloads(draft)) draft.effects.push({ type: "applyWorkload", version: stable, weight: 100 });
  }
  followSpec(draft);
  switch (observation.type) {
    case "analysis":
      recordAnalysis(draft, observation);
      break;
    case "guard":
      recordGuard(draft, observation);
      break;
    case "command":
      applyCommand(draft, observation);
      break;
    case "traffic":
      recordTraffic(draft, observation);
      break;
    case "tick":
    case "specChanged":
      resumeSchedules(draft);
      break;
    case "routeCheck":
      break;
  }
  // The canary lost its ready endpoints while taking traffic, or cannot run: back to stable at once.
  const unready = recordReadiness(draft);
  if (unready !== undefined && draft.release) {
    draft.release.checks.failed += 1;
    failRelease(draft, "rolled-back", unready, { failedChecks: draft.release.checks.failed });
  }
  // Refused by this traffic report: the release holds where it is (see route.ts).
  if (!routeRefused(draft.status)) {
    advance(draft);
    scheduleGuard(draft);
    checkProgressDeadline(draft);
  }
  retireDue(draft);
  return { status: draft.status, effects: draft.effects, ...(draft.requeueAt !== undefined ? { requeueAt: draft.requeueAt } : {}) };
}

/**
 * First sighting: the version in git is taken as stable, with no canary. When the
 * VirtualService already routes to another version of the service (the object was deleted and
 * made again, or git moved on while nobody managed it), that version stays stable and the one
 * in git is released from it: nothing reaches all users without a canary. A Rollout that was
 * Refused (`refused`) is adopted the same way once its route is free, keeping its records.
 */
function adopt(rollout: Rollout, now: number, liveVersion: string | undefined, refused?: RolloutStatus): RolloutStatus {
  const stable = liveVersion ?? rollout.spec.version;
  const iso = new Date(now).toISOString();
  const frozen = refused?.release;
  const history = frozen
    ? [
        ...(refused?.history ?? []),
        {
          id: frozen.id,
          version: frozen.version,
          fromVersion: refused?.stableVersion ?? stable,
          outcome: "superseded" as const,
          reason: "stopped while another Rollout managed the route",
          startedAt: frozen.startedAt,
          finishedAt: iso,
        },
      ]
    : (refused?.history ?? []);
  return {
    phase: "Healthy",
    message: `${stable} is stable: 100% of traffic`,
    stableVersion: stable,
    canaryWeight: 0,
    step: "",
    releaseCount: refused?.releaseCount ?? 0,
    conditions: [{ type: "Progressing", status: "False", reason: "Adopted", message: `${stable} adopted as stable`, lastTransitionTime: iso }],
    history: history.slice(-HISTORY_LIMIT),
    commands: refused?.commands ?? [],
    ...(refused?.eventCount !== undefined ? { eventCount: refused.eventCount } : {}),
  };
}

/** Starts, supersedes, reverts or holds a release so that it follows spec.version. */
function followSpec(draft: Draft): void {
  const version = draft.rollout.spec.version;
  const status = draft.status;
  const release = status.release;
  const held = draft.rollout.heldAbort;
  if (release) {
    if (release.version === version) {
      if (held !== undefined) failRelease(draft, "aborted", `held aborted in git: ${held}`, { by: "git" });
    } else if (version === status.stableVersion) {
      dropRelease(draft, "reverted", `spec.version went back to ${version}`);
    } else {
      dropRelease(draft, "superseded", `superseded by ${version}`);
      startOrHold(draft, version, held);
    }
    return;
  }
  if (version === status.stableVersion) {
    if (status.phase !== "Healthy") {
      status.phase = "Healthy";
      delete status.canaryVersion;
      draft.setCondition("Progressing", "False", "Reverted", `spec.version is the stable ${version}`);
      summarize(draft);
    }
    return;
  }
  const failedAlready = (status.phase === "RolledBack" || status.phase === "Aborted") && status.canaryVersion === version;
  if (!failedAlready) startOrHold(draft, version, held);
}

function startOrHold(draft: Draft, version: string, held: string | undefined): void {
  if (held === undefined) {
    startRelease(draft, version);
    return;
  }
  const status = draft.status;
  status.phase = "Aborted";
  status.canaryVersion = version;
  status.history = [
    ...status.history,
    { id: status.releaseCount + 1, version, fromVersion: status.stableVersion, outcome: "aborted" as const, reason: `held aborted in git: ${held}`, startedAt: draft.iso, finishedAt: draft.iso },
  ].slice(-HISTORY_LIMIT);
  status.releaseCount += 1;
  draft.setCondition("Progressing", "False", "Aborted", `held aborted in git: ${held}`);
  draft.notify("held", `${draft.rollout.name} ${version}: not started, held aborted in git (${held})`, { reason: held }, "warning");
  summarize(draft);
}

function recordTraffic(draft: Draft, observation: Extract<Observation, { type: "traffic" }>): void {
  const wanted = desiredTraffic(draft.rollout, draft.status);
  if (!sameTraffic(wanted, observation.traffic)) return; // a report about traffic status no longer wants
  if (!observation.applied && observation.routeConflict) {
    refuse(draft, observation.routeConflict);
    return;
  }
  if (!observation.applied) {
    // Told once while it fails for the same cause: a new cause, or a failure after recovery, is told again.
    const cause = observation.cause ?? "ApplyFailed";
    const failing = draft.status.conditions.find((c) => c.type === "TrafficApplied" && c.status === "False");
    const told = failing?.reason === cause;
    draft.setCondition("TrafficApplied", "False", cause, observation.error);
    if (!told) draft.notify("traffic-failed", `${draft.rollout.name}: traffic not applied: ${observation.error}`, { cause }, "warning");
    // Retries back off with how long it has been failing (5 s, 5 s, 10 s, 20 s ... 5 min).
    draft.wakeAt(draft.now + trafficRetryDelay(failing ? Date.parse(failing.lastTransitionTime) : undefined, draft.now));
    return;
  }
  draft.setCondition("TrafficApplied", "True", "Applied", describeTraffic(wanted.stableVersion, wanted.canaryVersion, wanted.canaryWeight));
  const release = draft.release;
  if (release && !release.trafficApplied) release.trafficApplied = true;
}

function describeTraffic(stable: string, canary: string | undefined, weight: number): string {
  return canary === undefined ? `100% to ${stable}` : `${100 - weight}% to ${stable}, ${weight}% to ${canary}`;
}

/**
 * After a restart or a lost schedule (Redis flushed), a tick asks again for what status is
 * waiting on: the overdue analysis run and the traffic not yet confirmed.
 */
function resumeSchedules(draft: Draft): void {
  const release = draft.release;
  if (!release) {
    if (draft.status.conditions.some((c) => c.type === "TrafficApplied" && c.status === "False")) draft.driveTraffic();
    return;
  }
  if (!release.trafficApplied) draft.driveTraffic();
  if (release.nextAnalysisAt !== undefined) {
    const at = Date.parse(release.nextAnalysisAt);
    draft.effects.push({ type: "runAnalysis", at, releaseId: release.id, stepIndex: release.stepIndex, version: release.version, stableVersion: draft.status.stableVersion });
  } else if (release.stepStartedAt !== undefined && draft.intervalMs !== undefined) {
    const step = draft.steps[release.stepIndex];
    if (step === undefined || step.kind === "pause") scheduleAnalysis(draft, release, draft.now + draft.intervalMs);
  }
}

/** The Rollout left git: an in-flight canary goes back to stable; nothing is managed any more. */
function remove(rollout: Rollout, status: RolloutStatus | undefined, now: number): Decision {
  if (!status) return { status: undefined, effects: [] };
  const draft = new Draft(rollout, structuredClone(status), now);
  if (managesWorkloads(draft)) {
    const left = leftWorkloads(draft);
    draft.notify("removed", `${rollout.name}: removed from git; its Deployments ${left.join(", ")} are left in place for you to delete`, { workloads: left.join(", ") });
  }
  if (draft.release) dropRelease(draft, "removed", "the Rollout was removed from git");
  return { status: undefined, effects: draft.effects };
}
