/** The traffic a Rollout's status asks for: what the traffic adapter drives the mesh to. */
import { headerRouteAt, mirrorRouteAt, type HeaderRoute, type MirrorRoute, type Rollout } from "./model.js";
import type { RolloutStatus } from "./status.js";

export interface Traffic {
  stableVersion: string;
  /** Absent when no release is in flight: 100% goes to stable. */
  canaryVersion?: string;
  /** Integer 0..100; stable gets the rest. */
  canaryWeight: number;
  /** Requests matching this go to the canary whatever the weights. */
  headerRoute?: HeaderRoute;
  /** A share of the stable's requests copied to the canary (answers dropped). */
  mirror?: MirrorRoute;
}

export function desiredTraffic(rollout: Rollout, status: RolloutStatus): Traffic {
  const release = status.release;
  if (!release) return { stableVersion: status.stableVersion, canaryWeight: 0 };
  const headerRoute = release.headerRoute ? headerRouteAt(rollout.spec, release.stepIndex) : undefined;
  const mirror = release.mirrorRoute === true ? mirrorRouteAt(rollout.spec, release.stepIndex) : undefined;
  return {
    stableVersion: status.stableVersion,
    canaryVersion: release.version,
    canaryWeight: release.canaryWeight,
    ...(headerRoute ? { headerRoute } : {}),
    ...(mirror ? { mirror } : {}),
  };
}

/** Same routing outcome (used to match a traffic report with what status wants). */
export function sameTraffic(a: Traffic, b: Traffic): boolean {
  return (
    a.stableVersion === b.stableVersion &&
    (a.canaryVersion ?? "") === (b.canaryVersion ?? "") &&
    a.canaryWeight === b.canaryWeight &&
    JSON.stringify(a.headerRoute ?? null) === JSON.stringify(b.headerRoute ?? null) &&
    JSON.stringify(a.mirror ?? null) === JSON.stringify(b.mirror ?? null)
  );
}

/** Every version this Rollout has routed to: its destinations are its own, others' are not. */
export function formerVersions(status: RolloutStatus | undefined): string[] {
  if (!status) return [];
  const versions = new Set<string>([status.stableVersion]);
  if (status.canaryVersion !== undefined) versions.add(status.canaryVersion);
  if (status.release) versions.add(status.release.version);
  for (const entry of status.history) {
    versions.add(entry.version);
    versions.add(entry.fromVersion);
  }
  return [...versions];
}

/** Whether status still waits to hear that the traffic it describes is in place. */
export function trafficPending(status: RolloutStatus): boolean {
  if (status.release) return !status.release.trafficApplied;
  const condition = status.conditions.find((c) => c.type === "TrafficApplied");
  return condition === undefined || condition.status !== "True";
}
